"""Factorial (multivariate) tests: main effects and interactions as contrasts of cell means.

Each variant is a cell named `factor=level|factor=level` (e.g. `subject=B|cta=red`); every
combination of levels must be present. An effect of factors S at levels l (against each
factor's baseline level) is the contrast sum_c w_c m_c with
w_c = prod_{f in S} ([c_f = l_f] - [c_f = base_f]) * prod_{g not in S} 1 / L_g:
a main effect is the difference averaged over the other factors' levels, a two-factor
interaction the difference of differences. Its variance is sum_c w_c^2 var(m_c) (cells are
independent). Formulas in docs/experiments.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.errors import ConfigError, SchemaError, did_you_mean
from omnimetrics.experiments.frequentist import arm_estimates, holm
from omnimetrics.experiments.summary import FACTOR_SEPARATOR, factor_levels, validate_summary


def factorial_effects(
    summary: Any,
    *,
    metric: str | None = None,
    alpha: float = 0.05,
    max_order: int = 2,
    baseline: Mapping[str, str] | None = None,
    cuped: bool | None = None,
) -> pd.DataFrame:
    """Main effects and interactions (up to `max_order` factors) of a full factorial test, with
    z intervals and p-values (raw and Holm over all effects). `baseline` names each factor's
    reference level (default: the level of the first variant, the control cell)."""
    checked = validate_summary(summary, metric=metric)
    totals = checked.totals()
    use_cuped = checked.has_covariate if cuped is None else cuped
    estimates = arm_estimates(totals, checked.metric, cuped=use_cuped)
    cells = [factor_levels(v) for v in checked.variants]
    factors = list(cells[0])
    for name, cell in zip(checked.variants, cells, strict=True):
        if list(cell) != factors:
            raise SchemaError(
                f"Variant {name!r} names the factors {list(cell)}; the first names {factors}: "
                "name the same factors, in the same order, in every cell."
            )
    levels = {f: list(dict.fromkeys(cell[f] for cell in cells)) for f in factors}
    expected = int(np.prod([len(v) for v in levels.values()]))
    if len(cells) != expected:
        present = {tuple(c[f] for f in factors) for c in cells}
        absent = [
            FACTOR_SEPARATOR.join(f"{f}={lv}" for f, lv in zip(factors, combo, strict=True))
            for combo in itertools.product(*levels.values())
            if combo not in present
        ]
        raise SchemaError(
            f"A full factorial of {factors} has {expected} cells; the summary has {len(cells)}. "
            f"Missing cells: {absent[:5]}."
        )
    base = {f: cells[0][f] for f in factors}
    for f, level in (baseline or {}).items():
        if f not in levels:
            raise ConfigError(f"Unknown factor {f!r}. " + did_you_mean(f, factors))
        if level not in levels[f]:
            raise ConfigError(f"Unknown level {level!r} of {f}. " + did_you_mean(level, levels[f]))
        base[f] = level
    if np.any(estimates.units < 2) or not np.all(np.isfinite(estimates.var_mean)):
        raise SchemaError("Every factorial cell needs at least 2 units and a defined variance.")
    rows = []
    z = stats.norm.ppf(1 - alpha / 2)
    for order in range(1, min(max_order, len(factors)) + 1):
        for subset in itertools.combinations(factors, order):
            choices = [[lv for lv in levels[f] if lv != base[f]] for f in subset]
            for chosen in itertools.product(*choices):
                at = dict(zip(subset, chosen, strict=True))
                weights = np.ones(len(cells))
                for i, cell in enumerate(cells):
                    for f in factors:
                        if f in at:
                            weights[i] *= float(cell[f] == at[f]) - float(cell[f] == base[f])
                        else:
                            weights[i] /= len(levels[f])
                estimate = float(weights @ estimates.mean)
                se = float(np.sqrt(np.sum(weights**2 * estimates.var_mean)))
                p = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else float("nan")
                rows.append(
                    {
                        "effect": " x ".join(subset),
                        "order": order,
                        "levels": FACTOR_SEPARATOR.join(f"{f}={at[f]}" for f in subset),
                        "against": FACTOR_SEPARATOR.join(f"{f}={base[f]}" for f in subset),
                        "estimate": estimate,
                        "se": se,
                        "ci_low": estimate - z * se,
                        "ci_high": estimate + z * se,
                        "p_value": p,
                    }
                )
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table
