"""Marketing mix modelling on the `Workspace`: the weekly series of the warehouse, the model
(`omnimetrics.mmm`), the budget it recommends. docs/mmm.md."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnimetrics.results import Result

if TYPE_CHECKING:
    from omnimetrics.config import Settings
    from omnimetrics.mmm import MixModel
    from omnimetrics.warehouse import Warehouse


class MixMethods:
    """The incremental effect of spend on all sales."""

    warehouse: Warehouse
    settings: Settings

    def mmm(self, *, target: str = "sales", n_bootstrap: int = 100, holdout_weeks: int = 13,
            seed: int = 0, budget: float | None = None) -> Result:  # fmt: skip
        """The mix model of the warehouse's weekly sales (`target`: sales, online_sales or
        offline_sales) on the spend of each channel: per channel its contribution, share, ROI
        and marginal ROI with intervals. Parts: the weekly decomposition (base and channels),
        the response curves, the diagnostics and the online/offline split of each effect; with
        `budget` (a share, e.g. 0.3), the allocation of the current spend within that share of
        each channel's (`budget()`), from the same fit."""
        model, series = self._mix_model(target, n_bootstrap, holdout_weeks, seed)
        result = mix_result(model, series, f"Mix model of weekly {target.replace('_', ' ')}")
        if budget is None:
            return result
        plan = _plan(model, None, budget)
        return replace(result, parts=(*result.parts, replace(plan, parts=()), *plan.parts))

    def budget(self, total: float | None = None, *, max_change: float = 0.3,
               target: str = "sales", seed: int = 0) -> Result:  # fmt: skip
        """The allocation of `total` (default: the spend of the modelled weeks) across channels
        that maximises expected sales, each channel within `max_change` of its current spend,
        with the expected uplift against the current allocation and its interval."""
        model, _ = self._mix_model(target, 100, 13, seed)
        return _plan(model, total, max_change)

    def _mix_model(self, target: str, n_bootstrap: int, holdout_weeks: int,
                   seed: int) -> tuple[MixModel, Any]:  # fmt: skip
        from omnimetrics.errors import ConfigError
        from omnimetrics.mmm import MixModel
        from omnimetrics.mmm.series import mix_series

        if target not in ("sales", "online_sales", "offline_sales"):
            raise ConfigError(
                f"target must be sales, online_sales or offline_sales; got {target!r}."
            )
        series, channels = mix_series(self.warehouse)
        model = MixModel(channels, target=target, n_bootstrap=n_bootstrap,
                         holdout_weeks=holdout_weeks, seed=seed)  # fmt: skip
        return model.fit(series), series


def _plan(model: MixModel, total: float | None, max_change: float) -> Result:
    """`optimise_budget` of a fitted model as a `Result` named "budget" (its summary a part)."""
    from omnimetrics.mmm import optimise_budget

    plan = optimise_budget(model, total_budget=total, max_change=max_change)
    summary = Result.of("budget_summary", "Expected sales, current and optimised", plan.summary)
    return Result.of("budget", "Budget allocation that maximises expected sales",
                     plan.allocation, parts=(summary,))  # fmt: skip


def mix_result(model: MixModel, series: Any, title: str) -> Result:
    """A fitted mix model as a `Result` named "mmm" (one row per channel) with its parts."""
    parts = [
        Result.of("mmm_decomposition", "Weekly sales: base and each channel's contribution",
                  model.decomposition()),
        Result.of("mmm_response", "Response curves: incremental sales by spend level",
                  model.response_curves()),
        Result.of("mmm_diagnostics", "Fit diagnostics", model.diagnostics()),
    ]  # fmt: skip
    if {"online_sales", "offline_sales"} <= set(series.columns) and model.target == "sales":
        split = model.split_effects(series, ["online_sales", "offline_sales"])
        parts.append(Result.of("mmm_split", "Each channel's effect, online and offline sales",
                               split))  # fmt: skip
    summary = model.channel_summary()
    notes = tuple(f"{row.channel}: {row.warning}" for row in summary.itertuples()
                  if isinstance(row.warning, str) and row.warning)  # fmt: skip
    return Result.of("mmm", title, pa.Table.from_pandas(summary, preserve_index=False),
                     parts=tuple(parts), notes=notes)  # fmt: skip
