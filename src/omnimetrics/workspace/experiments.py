"""Experiments on the `Workspace`: the tests of `experiment_assignments` and their analysis
(units and metrics in the engine: `experiments.units`; statistics on the per-variant sums:
`experiments.analysis`). docs/experiments.md."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.results import Result

if TYPE_CHECKING:
    from omnimetrics.config import Settings
    from omnimetrics.warehouse import Warehouse

DECISION_COLUMNS = ("variant", "control", "control_mean", "variant_mean", "lift_abs",
                    "lift_rel", "rel_ci_low", "rel_ci_high", "p_value", "chance_to_win",
                    "expected_loss", "seq_p_value", "srm_p_value", "decision")  # fmt: skip
"""What a reader of one test looks at first (printed by the CLI, shown on the dashboard; the
result and its CSV have every column)."""
SEQUENTIAL_PERIOD = "day"
"""The looks of the sequential test: one per day of exposure."""


class ExperimentMethods:
    """A/B and multivariate tests."""

    warehouse: Warehouse
    settings: Settings

    def experiments(self) -> Result:
        """Each experiment of `experiment_assignments`: variants, assignments, first and last
        assignment, undated rows."""
        from omnimetrics.experiments.units import experiments

        return Result.of("experiments", "Experiments", experiments(self.warehouse))

    def experiment(
        self,
        name: str | None = None,
        metric: str = "conversion",
        *,
        control: str | None = None,
        weights: Sequence[float] | Mapping[str, float] | None = None,
        alpha: float = 0.05,
        window_days: float | None = None,
        covariate_days: float | None = None,
        min_effect: float = 0.05,
        pool: Sequence[str] = (),
    ) -> Result:
        """One test analysed on `metric` (conversion, revenue, orders, average_basket, open,
        click, open_rate, click_rate): each variant against `control` (default the first by
        name) counted from each unit's assignment (within `window_days` of it when given), with
        CUPED on the `covariate_days` before it when given; frequentist, Bayesian and
        always-valid (daily looks) figures, the sample ratio check against `weights` (default
        equal) and a decision in words; `pool` merges variants (V1+V2 against control). `name`
        may be left out when there is one experiment."""
        from omnimetrics.experiments.units import METRICS, experiment_summary

        name = self._experiment_name(name)
        summary = experiment_summary(self.warehouse, name, metric, window_days=window_days,
                                     covariate_days=covariate_days,
                                     by_period=SEQUENTIAL_PERIOD)  # fmt: skip
        window = f", {window_days:g} days after assignment" if window_days else ""
        title = f"Experiment {name}: {metric.replace('_', ' ')}{window}"
        result = analysed(
            summary,
            title,
            control=control,
            weights=weights,
            alpha=alpha,
            min_effect=min_effect,
            pool=pool,
            label=metric.replace("_", " "),
        )
        counts = json.loads(summary.schema.metadata[b"omnimetrics"])["unit_counts"]
        excluded = {k: v for k, v in counts.items() if k not in ("units", "undated") and v}
        notes = [f"{METRICS[metric].doc}."]
        if excluded:
            left_out = (f"{v:,} {k.replace('_', ' ')}" for k, v in excluded.items())
            notes.append(f"Units left out: {', '.join(left_out)}.")
        if counts["undated"]:
            notes.append(f"{counts['undated']:,} units have no assignment time: counted from "
                         "the experiment's first day.")  # fmt: skip
        return result.with_notes(*notes)

    def _experiment_name(self, name: str | None) -> str:
        from omnimetrics.experiments.units import experiment_names

        names = experiment_names(self.warehouse)
        if name is None:
            if len(names) == 1:
                return names[0]
            listed = ", ".join(names) if names else "none: load experiment_assignments first"
            raise ConfigError(f"Name the experiment to analyse; the warehouse has {listed}.")
        if name not in names:
            raise ConfigError(f"No experiment {name!r} in experiment_assignments. "
                              + did_you_mean(name, names))  # fmt: skip
        return name


def analysed(summary: object, title: str, *, control: str | None = None,
             weights: Sequence[float] | Mapping[str, float] | None = None, alpha: float = 0.05,
             min_effect: float = 0.05, pool: Sequence[str] = (),
             label: str | None = None) -> Result:  # fmt: skip
    """A summary table (`experiments.summary`) analysed as a `Result` named "experiment": one
    row per variant against control; parts: the variants, the sample ratio check, the
    sequential looks and, for a factorial test (variants named `factor=level|...`), its main
    effects and interactions."""
    from omnimetrics.experiments import analyse, factorial_effects, pool_variants

    if pool:
        summary = pool_variants(summary, list(pool))
    found = analyse(summary, control=control, weights=weights, alpha=alpha,
                    min_effect=min_effect, label=label)  # fmt: skip
    result = found.to_result("experiment", title)
    names = found.variants["variant"].astype(str).tolist()
    if len(names) > 2 and all("=" in n for n in names) and not pool:
        effects = factorial_effects(summary, alpha=alpha, baseline=None)
        part = Result.of("experiment_effects", "Main effects and interactions", effects)
        result = replace(result, parts=(*result.parts, part))
    return result
