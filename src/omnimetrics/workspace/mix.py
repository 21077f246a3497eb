"""Marketing mix modelling on the `Workspace`: the weekly series of the warehouse, the model
(`omnimetrics.mmm`), the budget it recommends, the lifts of the warehouse's experiments, and the
table that reconciles attribution, mix model and experiments. docs/mmm.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from omnimetrics.errors import ConfigError
from omnimetrics.results import Result
from omnimetrics.workspace.measures import DEFAULT_MODELS

if TYPE_CHECKING:
    from omnimetrics.config import Settings
    from omnimetrics.mmm import MixModel
    from omnimetrics.warehouse import Warehouse

Calibration = pd.DataFrame | Mapping[str, str] | None
"""Measured lifts for the mix model: a table (channel, start, end, lift, lift_se), or the
warehouse's experiments that held a channel out, as {experiment: channel}."""

HOLDOUT_NAMES = ("holdout", "control")
"""The names of an experiment's variant that held the channel out, when not given."""

LIFT_COLUMNS = [
    "experiment", "channel", "control", "treated_units", "lift_per_unit", "start", "end",
    "lift", "lift_lower", "lift_upper", "lift_se",
]  # fmt: skip


class MixMethods:
    """The incremental effect of spend on all sales."""

    warehouse: Warehouse
    settings: Settings

    def mmm(self, *, target: str = "sales", n_bootstrap: int = 100, holdout_weeks: int = 13,
            seed: int = 0, budget: float | None = None, calibration: Calibration = None,
            engine: str = "ridge") -> Result:  # fmt: skip
        """The mix model of the warehouse's weekly sales (`target`: sales, online_sales or
        offline_sales) on the spend of each channel: per channel its contribution, share, ROI
        and marginal ROI with intervals. Parts: the weekly decomposition (base and channels),
        the response curves, the diagnostics, the omnichannel plan against single-channel plans
        and the online/offline split of each effect; with `budget` (a share, e.g. 0.3), the
        allocation of the current spend within that share of each channel's (`budget()`), from
        the same fit. `calibration`: measured lifts that inform the fit (`Calibration`).
        `engine`: "ridge" (search + ridge + bootstrap) or "pymc" (pymc-marketing's posterior;
        the [pymc] extra; `n_bootstrap` is then unused). docs/mmm.md."""
        model, series = self._mix_model(target, n_bootstrap, holdout_weeks, seed, calibration,
                                        engine)  # fmt: skip
        result = mix_result(model, series, f"Mix model of weekly {target.replace('_', ' ')}")
        if budget is None:
            return result
        plan = _plan(model, None, budget)
        return replace(result, parts=(*result.parts, replace(plan, parts=()), *plan.parts))

    def budget(self, total: float | None = None, *, max_change: float = 0.3,
               target: str = "sales", seed: int = 0, calibration: Calibration = None,
               engine: str = "ridge") -> Result:  # fmt: skip
        """The allocation of `total` (default: the spend of the modelled weeks) across channels
        that maximises expected sales, each channel within `max_change` of its current spend,
        with the expected uplift against the current allocation and its interval."""
        model, _ = self._mix_model(target, 100, 13, seed, calibration, engine)
        return _plan(model, total, max_change)

    def scenario(self, spend: Mapping[str, float], *, target: str = "sales", seed: int = 0,
                 calibration: Calibration = None, engine: str = "ridge") -> Result:  # fmt: skip
        """Expected sales over the modelled weeks for a spend plan (`spend`: channel -> total
        over a period as long as the modelled one; channels not named keep their spend; each
        keeps its weekly pattern): per channel its incremental sales and the total (base and
        channels), with intervals, beside the current spend."""
        model, series = self._mix_model(target, 100, 13, seed, calibration, engine)
        weeks = len(series)
        return Result.of("scenario", f"Expected {target.replace('_', ' ')} over {weeks} weeks "
                         "for the plan", model.scenario(spend))  # fmt: skip

    def experiment_lifts(self, experiments: Mapping[str, str]) -> Result:
        """The incremental sales of a channel measured by each experiment that held it out,
        `experiments` = {experiment: channel}: the revenue per unit of the exposed units
        against the holdout (the variant named holdout or control, or "channel:variant"; the
        other variants pooled), from each unit's assignment
        to the end of the data, times the exposed units, with its 95% interval and standard
        error; `start` is the Monday of the first assignment's week, `end` the last day of the
        data. Read as the channel's whole incremental sales over those weeks when the exposed
        units are its audience (docs/mmm.md, Calibration)."""
        return Result.of("experiment_lifts", "Incremental sales measured by experiments",
                         self._lifts(experiments))  # fmt: skip

    def reconcile(self, *, experiments: Mapping[str, str] | None = None,
                  models: Sequence[str] = DEFAULT_MODELS, n_bootstrap: int = 100, seed: int = 0,
                  calibrate: bool | None = None, mix: Result | None = None, paths: Any = None,
                  engine: str = "ridge") -> Result:  # fmt: skip
        """Per channel, over the mix model's weeks: its credit under each attribution model
        (revenue; the lowest and highest, last touch and the data-driven model), its incremental
        sales and ROI by the mix model with intervals, and its lift measured by an experiment
        where `experiments` ({experiment: channel}; default `[mix] holdouts`) names one; the
        gaps read in plain words. `calibrate`: the mix model is fitted with those lifts
        (`mmm(calibration=...)`; default `[mix] calibrate`). `mix`: a
        result of `mmm()` to read instead of fitting again; `paths`: the journeys' paths by
        month a run stored (`attribution(paths=...)`): then attribution counts the whole months
        the model's weeks touch."""
        experiments = self.settings.mix.holdouts if experiments is None else experiments
        calibrate = self.settings.mix.calibrate if calibrate is None else calibrate
        lifts = self._lifts(experiments)
        fitted_here = mix is None
        if mix is None:
            mix = self.mmm(n_bootstrap=n_bootstrap, seed=seed, engine=engine,
                           calibration=lifts if calibrate and len(lifts) else {})  # fmt: skip
        decomposition = mix.part("mmm_decomposition").to_pandas()
        weeks = pd.to_datetime(decomposition["date"])
        since, until = weeks.min().date(), weeks.max().date() + timedelta(days=6)
        first, last = since, until
        if paths is not None:  # stored paths by month: the whole months, the models they feed
            first = since.replace(day=1)
            last = (pd.Timestamp(until) + pd.offsets.MonthEnd(0)).date()
            registry = self.attribution_models  # type: ignore[attr-defined]
            models = [m for m in models if registry[m].reads_paths(["channel"])]
        credit = self.attribution(models, since=first, until=last, support=False,  # type: ignore[attr-defined]
                                  paths=paths)  # fmt: skip
        table, by_model = reconciled(mix.to_pandas(), credit.to_pandas(), lifts, decomposition)
        counted = (f"the whole months {first:%Y-%m} to {last:%Y-%m}" if paths is not None
                   else f"{since:%Y-%m-%d} to {until:%Y-%m-%d}")  # fmt: skip
        part = Result.of("reconcile_credit", "Revenue credited by each attribution model",
                         by_model)  # fmt: skip
        notes = (
            f"Attribution credits the tracked journeys that converted in {counted}; the mix "
            f"model measures what each channel's spend added to all sales (store and untracked "
            f"included) in the weeks {since:%Y-%m-%d} to {until:%Y-%m-%d}; an experiment "
            "measures what the channel added for its exposed units, from its start (the mix "
            "model's figure over the same weeks is `incremental_over_test`).",
            *(f"{c}: the mix model is calibrated with experiment {e}." for e, c in
              experiments.items() if calibrate and fitted_here),
        )  # fmt: skip
        title = f"Attribution, mix model and experiments, {since:%Y-%m-%d} to {until:%Y-%m-%d}"
        return Result.of("reconcile", title, table, parts=(part,), notes=notes)

    def _lifts(self, experiments: Mapping[str, str]) -> pd.DataFrame:
        from scipy.stats import norm, t

        from omnimetrics.experiments.units import experiments as listed

        rows: list[dict[str, Any]] = []
        if not experiments:  # nothing asked: a warehouse without experiments is fine
            return pd.DataFrame(rows, columns=LIFT_COLUMNS)
        known = listed(self.warehouse).to_pandas().set_index("experiment")
        for name, target in experiments.items():
            self._experiment_name(name)  # type: ignore[attr-defined]  # an unknown name: its error
            channel, _, control = target.partition(":")
            variants = [str(v) for v in known.loc[name, "variants"]]
            if not control:
                held = [v for v in variants if v.lower() in HOLDOUT_NAMES]
                if len(held) != 1:
                    raise ConfigError(
                        f"Experiment {name!r} has the variants {', '.join(sorted(variants))}: "
                        f"which held {channel} out? Give it as {name}={channel}:<variant>."
                    )
                control = held[0]
            exposed = [v for v in variants if v != control]
            pooled = exposed if len(exposed) > 1 else ()
            row = (
                self.experiment(  # type: ignore[attr-defined]
                    name, "revenue", control=control, pool=pooled
                )
                .to_pandas()
                .iloc[0]
            )
            units = int(row.variant_units)
            first = pd.Timestamp(known.loc[name, "first_assignment"]).tz_convert(None)
            start = (first - pd.Timedelta(days=first.weekday())).date()
            # the interval is Welch's t (a z for large samples): its quantile gives the error
            quantile = t.ppf(0.975, row.df) if np.isfinite(row.df) else norm.ppf(0.975)
            se = (float(row.ci_high) - float(row.ci_low)) / (2 * quantile) * units
            rows.append({
                "experiment": name, "channel": channel, "control": control,
                "treated_units": units, "lift_per_unit": float(row.lift_abs),
                "start": start, "end": self._data_end(),
                "lift": float(row.lift_abs) * units, "lift_lower": float(row.ci_low) * units,
                "lift_upper": float(row.ci_high) * units, "lift_se": se,
            })  # fmt: skip
        return pd.DataFrame(rows, columns=LIFT_COLUMNS)

    def _data_end(self) -> Any:
        from omnimetrics.metrics.facts import Facts

        covered = Facts(self.warehouse, grain="total").coverage
        return covered[1] - timedelta(days=1) if covered else None

    def _mix_model(self, target: str, n_bootstrap: int, holdout_weeks: int, seed: int,
                   calibration: Calibration = None,
                   engine: str = "ridge") -> tuple[MixModel, Any]:  # fmt: skip
        from omnimetrics.mmm import MixModel
        from omnimetrics.mmm.series import mix_series

        if target not in ("sales", "online_sales", "offline_sales"):
            raise ConfigError(
                f"target must be sales, online_sales or offline_sales; got {target!r}."
            )
        if calibration is None and self.settings.mix.calibrate and self.settings.mix.holdouts:
            if engine != "ridge":
                raise ConfigError(f"[mix] calibrate = true asks the mix model for the holdout "
                                  f"tests' lifts, which the {engine} engine does not take yet: "
                                  "use the ridge engine, or set calibrate = false.")  # fmt: skip
            calibration = self.settings.mix.holdouts  # [mix] calibrate = true
        if isinstance(calibration, Mapping):
            calibration = self._lifts(calibration)
        series, channels = mix_series(self.warehouse)
        model = MixModel(channels, target=target, n_bootstrap=n_bootstrap,
                         holdout_weeks=holdout_weeks, seed=seed, calibration=calibration,
                         engine=engine)  # fmt: skip
        return model.fit(series), series


def _plan(model: MixModel, total: float | None, max_change: float) -> Result:
    """`optimise_budget` of a fitted model as a `Result` named "budget" (its summary a part)."""
    from omnimetrics.mmm import optimise_budget

    plan = optimise_budget(model, total_budget=total, max_change=max_change)
    summary = Result.of("budget_summary", "Expected sales, current and optimised", plan.summary)
    return Result.of("budget", "Budget allocation that maximises expected sales",
                     plan.allocation, parts=(summary,))  # fmt: skip


def _plans(model: MixModel) -> Result:
    """`compare_plans` as a result, with a note on the plans read beyond the data."""
    from omnimetrics.mmm.optimise import EXTRAPOLATION, compare_plans

    plans = compare_plans(model)
    far = plans.plan[plans.largest_spend_multiple > EXTRAPOLATION].tolist()
    notes = (f"{', '.join(far)}: the channel would spend more than {EXTRAPOLATION:g} times what "
             "the data saw; its sales are read from the response curve beyond the data, an "
             "extrapolation.",) if far else ()  # fmt: skip
    return Result.of("mmm_plans", "The omnichannel plan against the same budget on one channel",
                     plans, notes=notes)  # fmt: skip


def mix_result(model: MixModel, series: Any, title: str) -> Result:
    """A fitted mix model as a `Result` named "mmm" (one row per channel) with its parts."""
    parts = [
        Result.of("mmm_decomposition", "Weekly sales: base and each channel's contribution",
                  model.decomposition()),
        Result.of("mmm_response", "Response curves: incremental sales by spend level",
                  model.response_curves()),
        Result.of("mmm_diagnostics", "Fit diagnostics", model.diagnostics()),
        _plans(model),
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


RECONCILE_COLUMNS = [
    "channel", "spend", "attributed_low", "attributed_high", "attributed_last_touch",
    "attributed_data_driven", "incremental", "incremental_lower", "incremental_upper", "roi",
    "roi_lower", "roi_upper", "identifiable", "experiment", "measured_lift", "measured_lower",
    "measured_upper", "incremental_over_test", "incremental_to_last_touch", "reading",
]  # fmt: skip
MIX_SHOWN = (
    "channel", "spend", "contribution", "contribution_lower", "contribution_upper", "share",
    "roi", "roi_lower", "roi_upper", "mroi", "identifiable",
)  # fmt: skip
"""What the terminal shows of `mmm` (the warnings are its notes; files keep every column)."""
RECONCILE_SHOWN = (
    "channel", "spend", "attributed_low", "attributed_high", "incremental", "incremental_lower",
    "incremental_upper", "measured_lift", "reading",
)  # fmt: skip
"""What the terminal and the dashboard show of `reconcile` (files keep every column)."""
DATA_DRIVEN = ("markov", "shapley")
NO_TOUCH = "(no attributable touch)"


def reconciled(summary: pd.DataFrame, credit: pd.DataFrame, lifts: pd.DataFrame,
               decomposition: pd.DataFrame | None = None,
               ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """One row per channel (`RECONCILE_COLUMNS`): attribution's revenue credit (`credit`: model,
    channel, revenue; a model without a row for a channel credits it 0), the mix model's
    incremental sales and ROI (`summary`: its `channel_summary`), an experiment's measured lift
    (`lifts`, as `experiment_lifts`; one per channel) beside the model's sales of the channel
    over the test's weeks (from the weekly `decomposition`: date, component, contribution), and
    the reading in words; and the credit by model, wide."""
    by_model = (
        credit[credit.channel != NO_TOUCH]
        .pivot_table(index="channel", columns="model", values="revenue", aggfunc="sum")
        .fillna(0.0)
    )
    summary = summary.set_index("channel")
    channels = list(dict.fromkeys([*summary.index, *by_model.index]))
    driven = next((m for m in DATA_DRIVEN if m in by_model.columns), None)
    twice = lifts.channel[lifts.channel.duplicated()].tolist()
    if twice:
        raise ConfigError(f"Several experiments name the channel(s) {twice}: give one holdout "
                          "test per channel.")  # fmt: skip
    lift = lifts.set_index("channel")
    rows = []
    for channel in channels:
        row: dict[str, Any] = dict.fromkeys(RECONCILE_COLUMNS, np.nan)
        row.update(channel=channel, identifiable=None, experiment=None)
        if channel in by_model.index:
            credited = by_model.loc[channel]
            row.update(attributed_low=credited.min(), attributed_high=credited.max(),
                       attributed_last_touch=credited.get("last_touch", np.nan),
                       attributed_data_driven=credited[driven] if driven else np.nan)  # fmt: skip
        if channel in summary.index:
            s = summary.loc[channel]
            row.update(spend=s.spend, incremental=s.contribution,
                       incremental_lower=s.contribution_lower,
                       incremental_upper=s.contribution_upper, roi=s.roi, roi_lower=s.roi_lower,
                       roi_upper=s.roi_upper, identifiable=bool(s.identifiable))  # fmt: skip
            if row["attributed_last_touch"] > 0:
                row["incremental_to_last_touch"] = s.contribution / row["attributed_last_touch"]
        if channel in lift.index:
            m = lift.loc[channel]
            row.update(experiment=m.experiment, measured_lift=m.lift,
                       measured_lower=m.lift_lower, measured_upper=m.lift_upper)  # fmt: skip
            if decomposition is not None and channel in summary.index:
                mine = decomposition[decomposition.component == channel]
                dates = pd.to_datetime(mine.date)
                inside = (dates >= pd.Timestamp(m.start)) & (dates <= pd.Timestamp(m.end))
                row["incremental_over_test"] = float(mine.contribution[inside].sum())
        row["reading"] = reading(row, summary.loc[channel, "warning"]
                                 if channel in summary.index else None)  # fmt: skip
        rows.append(row)
    table = pd.DataFrame(rows, columns=RECONCILE_COLUMNS)
    return table, by_model.reset_index().rename_axis(columns=None)


def reading(row: Mapping[str, Any], warning: str | None = None) -> str:
    """The gap between attribution, mix model and experiment for one channel, in plain words."""
    money = "{:,.0f}".format
    low, high = row["attributed_low"], row["attributed_high"]
    credited = (f"attribution credits it {money(low)} to {money(high)}" if pd.notna(low)
                else "no tracked journey touches it")  # fmt: skip
    if pd.isna(row["incremental"]):
        return (f"No spend in the spend table, so the mix model cannot measure it; {credited} "
                "(unpaid or untracked-cost touches)." + _measured(row))  # fmt: skip
    inc, inc_low, inc_high = row["incremental"], row["incremental_lower"], row["incremental_upper"]
    measured = f"the mix model measures {money(inc)} ({money(inc_low)} to {money(inc_high)})"
    if row["identifiable"] is False:
        why = "; ".join(dict.fromkeys(w.split(":")[0].strip() for w in (warning or "").split(";")
                                      if w.strip()))  # the warnings' first clauses  # fmt: skip
        words = (f"The mix model cannot separate this channel ({why or 'not identified'}), "
                 f"so its {money(inc)} is not reliable; {credited}. An experiment would settle "
                 "it.")  # fmt: skip
    elif pd.notna(low) and inc_high < low:
        words = (f"Closes journeys but adds little: {credited}, {measured}. Much of what it is "
                 "credited with would have sold anyway.")  # fmt: skip
    elif pd.notna(high) and inc_low > high:
        words = (f"Adds more than its tracked journeys show: {credited}, {measured}. Its "
                 "effect reaches sales attribution cannot see (stores, views without a "
                 "click).")  # fmt: skip
    elif pd.isna(low):
        words = f"Not in any tracked journey; {measured}."
    else:
        words = f"Attribution and mix model agree within the interval: {credited}, {measured}."
    return words + _measured(row)


def _measured(row: Mapping[str, Any]) -> str:
    """What the experiment measured, against the mix model over the same weeks when it can."""
    if pd.isna(row["measured_lift"]):
        return ""
    money = "{:,.0f}".format
    low, high = row["measured_lower"], row["measured_upper"]
    said = (f" Experiment {row['experiment']} measured {money(row['measured_lift'])} "
            f"({money(low)} to {money(high)})")  # fmt: skip
    model = row.get("incremental_over_test", np.nan)
    if pd.isna(model):
        return said + "."
    said += f"; the mix model gives {money(model)} over the same weeks"
    if low <= model <= high:
        return said + ": consistent."
    return said + ": they disagree; fit the model with the test (calibrate)."
