"""The mix model: transformation parameters searched per channel, non-negative ridge
coefficients, block-bootstrap intervals (the default engine, "ridge"), or a Bayesian posterior
through pymc-marketing (engine "pymc", the [pymc] extra). Model, choices and sources: docs/mmm.md.

sales_t = intercept + trend + yearly Fourier terms + controls
          + sum_c beta_c * saturation(adstock(spend_c / mean spend_c)),  beta_c >= 0.

>>> from omnimetrics.mmm.simulate import simulate_mix
>>> world = simulate_mix(n_weeks=104, n_channels=2, seed=3)
>>> model = MixModel(world.channels, controls=["promotion"], n_bootstrap=20).fit(world.series)
>>> list(model.channel_summary().columns)[:4]
['channel', 'spend', 'contribution', 'contribution_lower']
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear
from scipy.stats import chi2
from threadpoolctl import threadpool_limits

from omnimetrics.errors import ConfigError, SchemaError, did_you_mean
from omnimetrics.fitted import Fitted
from omnimetrics.mmm import pymc_engine
from omnimetrics.mmm.transforms import ADSTOCKS, SATURATIONS, Transform
from omnimetrics.registry import Registry

DAYS_PER_YEAR = 365.25


def _grid(transform: Transform, points: Mapping[str, int]) -> list[dict[str, float]]:
    """The parameter combinations searched for one transform (log-spaced for scale parameters)."""
    axes = []
    for name, (low, high) in transform.bounds.items():
        n = points.get(name, 6)
        if name in ("half_saturation", "steepness", "scale"):
            axes.append(np.geomspace(low, high, n))
        else:
            axes.append(np.linspace(low, high, n))
    names = list(transform.bounds)
    return [dict(zip(names, map(float, combo), strict=True)) for combo in itertools.product(*axes)]


GRID_POINTS = {"decay": 10, "half_saturation": 9, "shape": 6, "steepness": 14}


@dataclass(frozen=True)
class _Candidates:
    """Every searched transformation of one channel: columns (weeks x m) and their parameters."""

    adstocked: np.ndarray  # (n_adstock, weeks): adstocked spend / mean spend
    adstock_params: list[dict[str, float]]
    saturation_params: list[dict[str, float]]
    columns: np.ndarray  # (weeks, n_adstock * n_saturation)

    def split(self, index: int) -> tuple[int, int]:
        return divmod(index, len(self.saturation_params))


@dataclass(frozen=True)
class _Fit:
    """One solution: chosen candidate per channel, base coefficients, channel betas (scaled)."""

    choice: np.ndarray
    base_coef: np.ndarray
    beta: np.ndarray
    converged: bool = True


@dataclass(frozen=True)
class Draw:
    """One estimate of the whole model, what every table is computed from: a bootstrap refit
    (engine "ridge") or a posterior draw (engine "pymc").

    `base_coef` multiplies the model's base matrix (intercept, trend, seasonality, controls) and
    `beta` the channels' saturated columns, both in units of mean sales; `adstocked[j]` is channel
    j's spend / mean spend after this draw's adstock (shape (periods,)); `media` the saturated
    columns, shape (periods, channels); the parameters are in the units of docs/mmm.md.
    """

    base_coef: np.ndarray
    beta: np.ndarray
    adstocked: tuple[np.ndarray, ...]
    media: np.ndarray
    adstock_params: tuple[dict[str, float], ...]
    saturation_params: tuple[dict[str, float], ...]


@dataclass(frozen=True)
class Engine:
    """A named way to estimate the model: `fit(model, table)` sets the model's `fit_` (one Draw,
    the point parameters), `draws_` (the Draws the tables summarise), `holdout_predicted_` and
    `engine_diagnostics_` ((metric, value, note) rows). `options`: the settings it accepts through
    `engine_options`, with their defaults."""

    name: str
    fit: Callable[[MixModel, pd.DataFrame], None]
    options: Mapping[str, object]
    doc: str


class MixModel(Fitted):
    """Marketing mix model on a weekly (or daily) series, fitted by search + non-negative ridge.

    `ridge` is the penalty on the channel coefficients (sales at saturation, in units of mean
    sales) relative to the number of weeks; `holdout_weeks` the last weeks kept out of a first fit
    to measure the forecast error (the final fit uses every week); `n_bootstrap` the refits on
    block-resampled weeks (`bootstrap="weeks"`) or residuals that give the point values (their
    mean) and the intervals at `interval` level. `calibration`: experiment lifts, one row per
    experiment with channel, start, end, lift (incremental sales over those periods), lift_se.
    `engine`: "ridge" (the default, above) or "pymc" (posterior draws from pymc-marketing in place
    of the bootstrap fits; `engine_options` sets its sampler and priors: `ENGINES["pymc"].options`).
    """

    def __init__(
        self,
        channels: Sequence[str],
        target: str = "sales",
        date_column: str = "week",
        controls: Sequence[str] = (),
        adstock: str = "geometric",
        saturation: str = "hill",
        seasonality_order: int = 2,
        trend: bool = True,
        ridge: float = 0.0003,
        holdout_weeks: int = 13,
        n_bootstrap: int = 100,
        bootstrap: str = "weeks",
        block_weeks: int = 8,
        interval: float = 0.9,
        interval_method: str = "percentile",
        calibration: pd.DataFrame | None = None,
        seed: int = 0,
        engine: str = "ridge",
        engine_options: Mapping[str, object] | None = None,
    ) -> None:
        self.channels = list(channels)
        self.target = target
        self.date_column = date_column
        self.controls = list(controls)
        self.adstock = adstock
        self.saturation = saturation
        self.seasonality_order = seasonality_order
        self.trend = trend
        self.ridge = ridge
        self.holdout_weeks = holdout_weeks
        self.n_bootstrap = n_bootstrap
        self.bootstrap = bootstrap
        self.block_weeks = block_weeks
        self.interval = interval
        self.interval_method = interval_method
        self.calibration = calibration
        self.seed = seed
        self.engine = engine
        self.engine_options = engine_options

    # ------------------------------------------------------------------ input
    def _check(self, series: pd.DataFrame) -> pd.DataFrame:
        if not self.channels:
            raise ConfigError("MixModel needs at least one channel: pass channels=[...].")
        wanted = [self.date_column, self.target, *self.channels, *self.controls]
        if len(set(wanted)) != len(wanted):
            raise ConfigError(
                f"A column is named twice among date, target, channels, controls: {wanted}."
            )
        for column in wanted:
            if column not in series.columns:
                raise SchemaError(
                    f"The series has no column {column!r}. " + did_you_mean(column, series.columns)
                )
        if not 0 < self.interval < 1:
            raise ConfigError(f"The 'interval' parameter must lie in (0, 1). Got {self.interval}.")
        if self.interval_method not in ("basic", "percentile"):
            raise ConfigError(
                f"Unknown interval_method {self.interval_method!r}. "
                "Choose from ['basic', 'percentile']."
            )
        if self.bootstrap not in ("weeks", "residuals"):
            raise ConfigError(
                f"Unknown bootstrap {self.bootstrap!r}. Choose from ['residuals', 'weeks']."
            )
        if self.ridge < 0:
            raise ConfigError(f"The 'ridge' parameter must be >= 0. Got {self.ridge}.")
        ADSTOCKS[self.adstock], SATURATIONS[self.saturation]  # unknown names raise with the choices
        self.engine_settings()
        table = series[wanted].copy()
        table[self.date_column] = pd.to_datetime(table[self.date_column])
        table = table.sort_values(self.date_column).reset_index(drop=True)
        if table[self.date_column].duplicated().any():
            day = table.loc[table[self.date_column].duplicated(), self.date_column].iloc[0]
            raise SchemaError(
                f"Column {self.date_column!r} has the period {day.date()} more than once: "
                "aggregate the series to one row per period first."
            )
        numbers = [self.target, *self.channels, *self.controls]
        values = table[numbers].apply(pd.to_numeric, errors="coerce")
        bad = values.isna() | ~np.isfinite(values)
        if bad.any().any():
            column = bad.any().idxmax()
            row = int(bad[column].to_numpy().argmax())
            raise SchemaError(
                f"Column {column!r} has a missing or non-numeric value at row {row} "
                f"({table[self.date_column].iloc[row].date()}): "
                "fill it (0 for no spend) or drop the row."
            )
        negative = (values[self.channels] < 0).any()
        if negative.any():
            raise SchemaError(
                f"Spend column {negative.idxmax()!r} has negative values: spend must be >= 0."
            )
        silent = [c for c in self.channels if values[c].sum() == 0]
        if silent:
            raise SchemaError(
                f"Channels {silent} have no spend in any period: drop them from channels."
            )
        table[numbers] = values
        n_params = (
            1 + self.trend + 2 * self.seasonality_order + len(self.controls) + len(self.channels)
        )
        if len(table) < max(26, 2 * n_params + self.holdout_weeks):
            raise ConfigError(
                f"The series has {len(table)} periods, too few for {n_params} coefficients and a "
                f"{self.holdout_weeks}-period holdout: give more history, fewer channels, or a "
                "smaller holdout_weeks."
            )
        return table

    def _base_matrix(self, table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """Intercept, trend, yearly Fourier terms, standardised controls; each column's group."""
        n = len(table)
        dates = table[self.date_column]
        step_days = (
            float(np.median(np.diff(dates.to_numpy()).astype("timedelta64[s]").astype(float)))
            / 86400
        )
        days = (dates - dates.iloc[0]).dt.total_seconds().to_numpy() / 86400
        columns, groups = [np.ones(n)], ["intercept"]
        if self.trend:
            columns.append(np.arange(n) / n - 0.5)
            groups.append("trend")
        if step_days < DAYS_PER_YEAR / 4:
            for k in range(1, self.seasonality_order + 1):
                angle = 2 * np.pi * k * days / DAYS_PER_YEAR
                columns += [np.sin(angle), np.cos(angle)]
                groups += ["seasonality", "seasonality"]
        for control in self.controls:
            values = table[control].to_numpy(dtype=float)
            spread = values.std()
            columns.append((values - values.mean()) / spread if spread > 0 else values * 0)
            groups.append(control)
        return np.column_stack(columns), groups

    def _candidates(self, spend: np.ndarray) -> list[_Candidates]:
        adstock, saturation = ADSTOCKS[self.adstock], SATURATIONS[self.saturation]
        adstock_grid = _grid(adstock, GRID_POINTS)
        saturation_grid = _grid(saturation, GRID_POINTS)
        out = []
        for j in range(spend.shape[1]):
            adstocked = np.stack([adstock.function(spend[:, j], **p) for p in adstock_grid])
            columns = np.concatenate(
                [
                    np.stack([saturation.function(a, **p) for p in saturation_grid], axis=1)
                    for a in adstocked
                ],
                axis=1,
            )
            out.append(_Candidates(adstocked, adstock_grid, saturation_grid, columns))
        return out

    # ------------------------------------------------------------------ estimation
    def _penalties(self, n_base: int, n_channels: int, n_weeks: int) -> np.ndarray:
        base = np.full(n_base, 1e-4 * n_weeks)
        base[0] = 0.0  # the intercept is not shrunk
        return np.concatenate([base, np.full(n_channels, self.ridge * n_weeks)])

    def _solve(
        self, y: np.ndarray, base: np.ndarray, media: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ridge with channel coefficients >= 0 (bounded least squares on the augmented system)."""
        design = np.hstack([base, media])
        penalty = np.sqrt(self._penalties(base.shape[1], media.shape[1], len(y)))
        augmented = np.vstack([design, np.diag(penalty)])
        target = np.concatenate([y, np.zeros(design.shape[1])])
        lower = np.concatenate([np.full(base.shape[1], -np.inf), np.zeros(media.shape[1])])
        result = lsq_linear(augmented, target, bounds=(lower, np.inf), method="bvls")
        return result.x[: base.shape[1]], result.x[base.shape[1] :]

    def _search(
        self,
        y: np.ndarray,
        base: np.ndarray,
        candidates: list[_Candidates],
        start: np.ndarray,
        max_sweeps: int = 8,
    ) -> _Fit:
        """Coordinate search: each channel in turn takes the candidate that most lowers the loss.

        The loss of every candidate of one channel, the others fixed, comes in closed form from
        the ridge normal equations (a rank-one update), so a sweep costs a few matrix products.
        """
        n, n_channels = len(y), len(candidates)
        lam = self.ridge * n
        base_penalty = self._penalties(base.shape[1], 0, n)
        choice, active = start.copy(), np.ones(n_channels, dtype=bool)
        changed = True
        for _ in range(max_sweeps):
            changed = False
            for j in range(n_channels):
                others = [k for k in range(n_channels) if k != j and active[k]]
                z = np.hstack([base] + [candidates[k].columns[:, [choice[k]]] for k in others])
                penalty = np.concatenate([base_penalty, np.full(len(others), lam)])
                gram = z.T @ z + np.diag(penalty)
                cols = candidates[j].columns
                u = z.T @ cols  # (p, m)
                solved = np.linalg.solve(gram, np.column_stack([z.T @ y, u]))
                gram_inv_b, gram_inv_u = solved[:, 0], solved[:, 1:]
                numerator = cols.T @ y - u.T @ gram_inv_b
                denominator = (
                    np.einsum("tm,tm->m", cols, cols) + lam - np.einsum("pm,pm->m", u, gram_inv_u)
                )
                gain = np.where(numerator > 0, numerator**2 / np.maximum(denominator, 1e-12), 0.0)
                best = int(np.argmax(gain))
                now_active = bool(gain[best] > 0)
                if now_active and best != choice[j] and gain[best] > gain[choice[j]] * (1 + 1e-9):
                    choice[j], changed = best, True
                if now_active != active[j]:
                    active[j], changed = now_active, True
            if not changed:
                break
        media = np.column_stack([candidates[k].columns[:, choice[k]] for k in range(n_channels)])
        base_coef, beta = self._solve(y, base, media)
        return _Fit(choice, base_coef, beta, converged=not changed)

    def _start(self, candidates: list[_Candidates]) -> np.ndarray:
        """The middle of each channel's grid."""
        starts = []
        for c in candidates:
            a, s = len(c.adstock_params) // 2, len(c.saturation_params) // 2
            starts.append(a * len(c.saturation_params) + s)
        return np.array(starts)

    def _media(self, fit: _Fit) -> np.ndarray:
        return np.column_stack(
            [c.columns[:, fit.choice[j]] for j, c in enumerate(self._candidates_)]
        )

    def engine_settings(self) -> dict[str, object]:
        """The engine's options: its defaults updated with `engine_options` (unknown keys raise)."""
        engine = ENGINES[self.engine]
        given = dict(self.engine_options or {})
        unknown = sorted(set(given) - set(engine.options))
        if unknown:
            accepted = sorted(engine.options) or "none: its settings are MixModel's parameters"
            raise ConfigError(
                f"Unknown engine_options {unknown} for engine {self.engine!r}. "
                f"It accepts {accepted}."
            )
        return {**engine.options, **given}

    def fit(self, series: pd.DataFrame) -> MixModel:
        """Estimate the model with its engine (default: search the transformations, fit the
        coefficients, bootstrap the intervals)."""
        table = self._check(series)
        for engine_state in ("inference_data_", "_candidates_"):  # a refit with another engine
            vars(self).pop(engine_state, None)
        self.dates_ = table[self.date_column].to_numpy()
        self.sales_ = table[self.target].to_numpy(dtype=float)
        self.spend_ = table[self.channels].to_numpy(dtype=float)
        self.sales_scale_ = float(np.abs(self.sales_).mean()) or 1.0
        self.spend_scale_ = self.spend_.mean(axis=0)
        self._base_, self.base_groups_ = self._base_matrix(table)
        # OpenBLAS's threads wait on each other for matrices this small on a busy 2-core
        # machine: one thread made the same fit 0.8 s instead of 7.5 s (docs/mmm.md)
        with threadpool_limits(limits=1, user_api="blas"):
            ENGINES[self.engine].fit(self, table)
        self.fitted_ = self._summary(self._fitted)[0]
        return self

    def _calibration_rows(
        self, table: pd.DataFrame, sigma: float
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each measured lift as one pseudo-observation: sigma * (the channel's incremental sales
        summed over the experiment's periods - lift) / lift_se, a quadratic penalty on the
        channel's effect with the weight of a Gaussian likelihood."""
        n_candidates = [c.columns.shape[1] for c in self._candidates_]
        if self.calibration is None or len(self.calibration) == 0:
            return np.zeros(0), [np.zeros((0, m)) for m in n_candidates]
        lifts = pd.DataFrame(self.calibration)
        required = ["channel", "start", "end", "lift", "lift_se"]
        missing = [c for c in required if c not in lifts.columns]
        if missing:
            raise SchemaError(
                f"The calibration table lacks columns {missing}: give one row per experiment with "
                f"{required} (lift = incremental sales over [start, end], lift_se its standard "
                "error)."
            )
        dates = table[self.date_column]
        y_extra = np.zeros(len(lifts))
        extra = [np.zeros((len(lifts), m)) for m in n_candidates]
        for k, lift in enumerate(lifts.itertuples(index=False)):  # one row per experiment
            if lift.channel not in self.channels:
                raise ConfigError(
                    f"Calibration row {k} names channel {lift.channel!r}, not a modelled channel. "
                    + did_you_mean(str(lift.channel), self.channels)
                )
            weeks = (
                (dates >= pd.Timestamp(lift.start)) & (dates <= pd.Timestamp(lift.end))
            ).to_numpy()
            if not weeks.any():
                raise ConfigError(
                    f"Calibration row {k} ({lift.channel}, {lift.start} to {lift.end}) covers no "
                    "period of the series: give dates inside the modelled history."
                )
            if not lift.lift_se > 0:
                raise ConfigError(f"Calibration row {k}: lift_se must be > 0. Got {lift.lift_se}.")
            j = self.channels.index(lift.channel)
            se = float(lift.lift_se) / self.sales_scale_
            y_extra[k] = sigma * float(lift.lift) / self.sales_scale_ / se
            extra[j][k] = sigma * self._candidates_[j].columns[weeks].sum(axis=0) / se
        return y_extra, extra

    def _fit_ridge(self, table: pd.DataFrame) -> None:
        """The default engine: search + non-negative ridge, refitted on bootstrap resamples."""
        n = len(table)
        y = self.sales_ / self.sales_scale_
        base = self._base_
        self._candidates_ = self._candidates(self.spend_ / self.spend_scale_)
        start = self._start(self._candidates_)

        # experiment lifts enter as extra rows (pseudo-observations) after the weeks
        # weighted by the residual standard deviation of a fit without them, so that a lift
        # counts as much as its standard error says against the weekly noise
        sigma = 1.0
        if self.calibration is not None and len(self.calibration):
            first = self._search(y, base, self._candidates_, start)
            sigma = float(np.std(y - base @ first.base_coef - self._media(first) @ first.beta))
        extra_y, extra_columns = self._calibration_rows(table, sigma)
        n_extra = len(extra_y)
        y_all = np.concatenate([y, extra_y])
        base_all = np.vstack([base, np.zeros((n_extra, base.shape[1]))])
        candidates_all = [
            _Candidates(
                c.adstocked, c.adstock_params, c.saturation_params, np.vstack([c.columns, e])
            )
            for c, e in zip(self._candidates_, extra_columns, strict=True)
        ]
        lifts = n + np.arange(n_extra)

        def rows(index: np.ndarray) -> list[_Candidates]:
            return [
                _Candidates(c.adstocked, c.adstock_params, c.saturation_params, c.columns[index])
                for c in candidates_all
            ]

        # first fit without the last weeks: the holdout error
        if self.holdout_weeks > 0:
            train = np.concatenate([np.arange(n - self.holdout_weeks), lifts])
            early = self._search(y_all[train], base_all[train], rows(train), start)
            predicted = base @ early.base_coef + self._media(early) @ early.beta
            self.holdout_predicted_ = predicted[n - self.holdout_weeks :] * self.sales_scale_
        else:
            self.holdout_predicted_ = np.array([])

        full = self._search(y_all, base_all, candidates_all, start)
        fitted = base @ full.base_coef + self._media(full) @ full.beta
        residuals = y - fitted

        rng = np.random.default_rng(self.seed)
        draws = []
        for _ in range(self.n_bootstrap):
            if self.bootstrap == "weeks":
                index = np.concatenate(
                    [_block_resample(np.arange(n), self.block_weeks, rng), lifts]
                )
                target = y_all[index]
                target[n:] += sigma * rng.normal(size=n_extra)  # the lifts' own uncertainty
                draws.append(self._search(target, base_all[index], rows(index), start))
            else:
                noise = _block_resample(residuals - residuals.mean(), self.block_weeks, rng)
                target = np.concatenate(
                    [fitted + noise, extra_y + sigma * rng.normal(size=n_extra)]
                )
                draws.append(self._search(target, base_all, candidates_all, start))
        self.fit_ = self._draw(full)
        self.draws_ = [self._draw(fit) for fit in draws]
        converged = np.mean([f.converged for f in [full, *draws]])
        self.engine_diagnostics_ = [
            (
                "search_converged",
                float(converged),
                "share of fits (bootstrap and full) whose parameter search settled before its "
                "sweep limit",
            )
        ]

    def _draw(self, fit: _Fit) -> Draw:
        """A search's solution as the tables read it."""
        adstocked, adstock_params, saturation_params = [], [], []
        for j, c in enumerate(self._candidates_):
            a, s = c.split(int(fit.choice[j]))
            adstocked.append(c.adstocked[a])
            adstock_params.append(c.adstock_params[a])
            saturation_params.append(c.saturation_params[s])
        return Draw(
            base_coef=fit.base_coef,
            beta=fit.beta,
            adstocked=tuple(adstocked),
            media=self._media(fit),
            adstock_params=tuple(adstock_params),
            saturation_params=tuple(saturation_params),
        )

    # ------------------------------------------------------------------ results
    def _contributions(self, fit: Draw, multiple: float | np.ndarray = 1.0) -> np.ndarray:
        """Incremental sales per period and channel, with each channel's spend times `multiple`."""
        saturation = SATURATIONS[self.saturation]
        multiples = np.broadcast_to(np.asarray(multiple, dtype=float), (len(self.channels),))
        out = np.empty((len(self.dates_), len(self.channels)))
        for j in range(len(self.channels)):
            if multiples[j] == 1.0:
                column = fit.media[:, j]
            else:
                column = saturation.function(
                    fit.adstocked[j] * multiples[j], **fit.saturation_params[j]
                )
            out[:, j] = fit.beta[j] * column
        return out * self.sales_scale_

    def _response(self, fit: Draw, multiples: np.ndarray) -> np.ndarray:
        """Total incremental sales per channel (columns) at each row of spend `multiples`
        (shape (points,) shared by every channel, or (points, channels))."""
        saturation = SATURATIONS[self.saturation]
        grid = np.asarray(multiples, dtype=float)
        grid = np.broadcast_to(
            grid[:, None] if grid.ndim == 1 else grid, (len(grid), len(self.channels))
        )
        out = np.empty(grid.shape)
        for j in range(len(self.channels)):
            scaled = fit.adstocked[j][:, None] * grid[None, :, j]  # (periods, points)
            out[:, j] = fit.beta[j] * saturation.function(scaled, **fit.saturation_params[j]).sum(
                axis=0
            )
        return out * self.sales_scale_

    def _fitted(self, fit: Draw) -> np.ndarray:
        return self._base_parts(fit).sum(axis=1) + self._contributions(fit).sum(axis=1)

    def _base_parts(self, fit: Draw) -> np.ndarray:
        """Base sales per period by group (columns in the order of `_base_groups`)."""
        parts = self._base_ * fit.base_coef * self.sales_scale_
        groups = np.array(self.base_groups_)
        return np.column_stack([parts[:, groups == g].sum(axis=1) for g in self._base_groups()])

    def _base_groups(self) -> list[str]:
        return list(dict.fromkeys(self.base_groups_))

    def _summary(
        self, statistic: Callable[[Draw], np.ndarray], non_negative: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A statistic's point value and interval over the draws (bootstrap fits or posterior).

        The point value is the mean over the draws (for bootstrap fits: bagging, which steadies
        the discrete choice of transformation parameters; for a posterior: its mean); without
        draws, the single fit's value.
        """
        if not self.draws_:
            point = statistic(self.fit_)
            return point, np.full(point.shape, np.nan), np.full(point.shape, np.nan)
        values = np.stack([statistic(f) for f in self.draws_])
        point = values.mean(axis=0)
        tail = (1 - self.interval) / 2 * 100
        low, high = np.percentile(values, tail, axis=0), np.percentile(values, 100 - tail, axis=0)
        if self.interval_method == "basic":
            low, high = 2 * point - high, 2 * point - low
        if non_negative:
            low, high = np.maximum(low, 0.0), np.maximum(high, 0.0)
        return point, low, high

    def _mroi(self, fit: Draw, step: float = 1e-3) -> np.ndarray:
        up = self._contributions(fit, 1 + step).sum(axis=0)
        down = self._contributions(fit, 1 - step).sum(axis=0)
        return (up - down) / (2 * step * self.spend_.sum(axis=0))

    def decomposition(self) -> pd.DataFrame:
        """Base and incremental sales per component per period, with intervals; sums to fitted.

        Columns: date, component, kind ('base' or 'channel'), contribution, lower, upper. Base
        components: intercept, trend, seasonality and each control.
        """
        self.check_fitted()
        groups = self._base_groups()
        names = [*groups, *self.channels]
        kinds = ["base"] * len(groups) + ["channel"] * len(self.channels)
        point, lower, upper = self._summary(
            lambda f: np.hstack([self._base_parts(f), self._contributions(f)])
        )
        n, k = point.shape
        return pd.DataFrame(
            {
                "date": np.repeat(self.dates_, k),
                "component": np.tile(names, n),
                "kind": np.tile(kinds, n),
                "contribution": point.ravel(),
                "lower": lower.ravel(),
                "upper": upper.ravel(),
            }
        )

    def channel_summary(self) -> pd.DataFrame:
        """Per channel: spend, incremental sales, share, ROI and marginal ROI with intervals, the
        identification warning, and the single full-data fit's transformation parameters."""
        self.check_fitted()
        spend = self.spend_.sum(axis=0)

        def stats(fit: Draw) -> np.ndarray:
            contribution = self._contributions(fit).sum(axis=0)
            total = contribution.sum()
            share = contribution / total if total > 0 else np.zeros_like(contribution)
            return np.stack([contribution, share, contribution / spend, self._mroi(fit)])

        point, lower, upper = self._summary(stats, non_negative=True)
        frame = pd.DataFrame({"channel": self.channels, "spend": spend})
        for i, name in enumerate(["contribution", "share", "roi", "mroi"]):
            frame[name] = point[i]
            frame[f"{name}_lower"] = lower[i]
            frame[f"{name}_upper"] = upper[i]
        warnings = self._identification_warnings()
        measured = self._calibrated_channels()
        frame["identifiable"] = [c not in warnings or c in measured for c in self.channels]
        frame["warning"] = [
            f"calibrated by an experiment's lift; from spend alone: {warnings[c]}"
            if c in warnings and c in measured
            else warnings.get(c, "")
            for c in self.channels
        ]
        frame["beta"] = self.fit_.beta * self.sales_scale_
        for j in range(len(self.channels)):
            for name, value in self.fit_.adstock_params[j].items():
                frame.loc[j, f"adstock_{name}"] = value
            for name, value in self.fit_.saturation_params[j].items():
                frame.loc[j, f"saturation_{name}"] = value
        return frame

    def response_curves(self, n_points: int = 41, max_multiple: float = 2.0) -> pd.DataFrame:
        """Incremental sales per channel as its spend is scaled from 0 to `max_multiple` times the
        current spend (weekly pattern kept), with intervals: chart-ready."""
        self.check_fitted()
        multiples = np.linspace(0.0, max_multiple, n_points)
        if not np.isclose(multiples, 1.0).any():
            multiples = np.sort(np.append(multiples, 1.0))
        point, lower, upper = self._summary(
            lambda f: self._response(f, multiples), non_negative=True
        )  # (multiples, channels)
        spend = self.spend_.sum(axis=0)
        frames = [
            pd.DataFrame(
                {
                    "channel": channel,
                    "spend_multiple": multiples,
                    "spend": multiples * spend[j],
                    "incremental_sales": point[:, j],
                    "lower": lower[:, j],
                    "upper": upper[:, j],
                    "current": np.isclose(multiples, 1.0),
                }
            )
            for j, channel in enumerate(self.channels)
        ]
        return pd.concat(frames, ignore_index=True)

    def expected_sales(self, multiples: np.ndarray) -> np.ndarray:
        """Sales over the modelled period for each bootstrap fit (or the single fit), per channel
        then the total (base + channels), with each channel's spend times `multiples`."""
        self.check_fitted()
        return np.stack([self._one_plan(f, multiples) for f in self.draws_ or [self.fit_]])

    def scenario(self, spend: Mapping[str, float]) -> pd.DataFrame:
        """Expected sales over the modelled period for a spend plan (total per channel; channels not
        named keep their current spend; each keeps its weekly pattern), with intervals.

        One row per channel (its incremental sales) and one 'total' row (base + every channel):
        columns channel, spend, current_spend, sales, lower, upper.
        """
        multiples = self.multiples(spend)
        point, lower, upper = self._summary(lambda f: self._one_plan(f, multiples))
        current = self.spend_.sum(axis=0)
        planned = current * multiples
        return pd.DataFrame(
            {
                "channel": [*self.channels, "total"],
                "spend": [*planned, planned.sum()],
                "current_spend": [*current, current.sum()],
                "sales": point,
                "lower": lower,
                "upper": upper,
            }
        )

    def _one_plan(self, fit: Draw, multiples: np.ndarray) -> np.ndarray:
        media = self._contributions(fit, multiples).sum(axis=0)
        return np.append(media, self._base_parts(fit).sum() + media.sum())

    def multiples(self, spend: Mapping[str, float]) -> np.ndarray:
        """A plan (total spend per channel) as multiples of each channel's current spend."""
        self.check_fitted()
        current = self.spend_.sum(axis=0)
        multiples = np.ones(len(self.channels))
        for channel, amount in spend.items():
            if channel not in self.channels:
                raise ConfigError(
                    f"Unknown channel {channel!r}. " + did_you_mean(channel, self.channels)
                )
            if not np.isfinite(amount) or amount < 0:
                raise ConfigError(f"Planned spend for {channel!r} must be >= 0. Got {amount}.")
            multiples[self.channels.index(channel)] = amount / current[self.channels.index(channel)]
        return multiples

    def split_effects(self, series: pd.DataFrame, targets: Sequence[str]) -> pd.DataFrame:
        """Each channel's incremental sales split over other sales columns (e.g. online and offline
        sales), with intervals. For each fit (full and bootstrap), the coefficients are refitted
        on each target with that fit's transformations; a channel's contribution is split in
        proportion to its refitted effects (by the targets' sales shares where every refitted
        effect is zero), so the parts add up to `channel_summary()`'s contribution.

        Columns: channel, target, contribution, lower, upper, share (of the channel's total over
        the targets), roi.
        """
        self.check_fitted()
        missing = [t for t in targets if t not in series.columns]
        if missing:
            raise SchemaError(
                f"The series has no column {missing[0]!r}. "
                + did_you_mean(missing[0], series.columns)
            )
        table = series.assign(**{self.date_column: pd.to_datetime(series[self.date_column])})
        table = table.sort_values(self.date_column)
        if not np.array_equal(table[self.date_column].to_numpy(), self.dates_):
            raise SchemaError(
                "split_effects needs the periods the model was fitted on: pass the same series "
                "(with the extra target columns)."
            )
        values = table[list(targets)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(values)):
            raise SchemaError(f"Columns {list(targets)} hold missing or non-numeric values.")
        scales = np.abs(values).mean(axis=0)
        scales[scales == 0] = 1.0

        sales_shares = values.sum(axis=0) / values.sum()

        def per_target(fit: Draw) -> np.ndarray:
            media = fit.media
            effects = np.empty((len(targets), len(self.channels)))
            for k in range(len(targets)):
                _, beta = self._solve(values[:, k] / scales[k], self._base_, media)
                effects[k] = beta * media.sum(axis=0) * scales[k]
            total = effects.sum(axis=0)
            shares = np.where(
                total > 0, effects / np.where(total > 0, total, 1.0), sales_shares[:, None]
            )
            return shares * self._contributions(fit).sum(axis=0)

        point, lower, upper = self._summary(per_target, non_negative=True)
        totals = point.sum(axis=0)
        spend = self.spend_.sum(axis=0)
        rows = [
            {
                "channel": channel,
                "target": target,
                "contribution": point[k, j],
                "lower": lower[k, j],
                "upper": upper[k, j],
                "share": point[k, j] / totals[j] if totals[j] > 0 else np.nan,
                "roi": point[k, j] / spend[j],
            }
            for j, channel in enumerate(self.channels)
            for k, target in enumerate(targets)
        ]
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ diagnostics
    def _calibrated_channels(self) -> set[str]:
        """The channels an experiment's lift calibrates: the lift identifies their effect when
        their spend alone does not."""
        if self.calibration is None or len(self.calibration) == 0:
            return set()
        return set(pd.DataFrame(self.calibration)["channel"].astype(str))

    def _identification_warnings(
        self, min_cv: float = 0.1, max_correlation: float = 0.9, max_explained: float = 0.9
    ) -> dict[str, str]:
        """Channels whose spend is too flat, moves with another channel's, or is explained by the
        other channels and the base terms together (R2 above `max_explained`, i.e. a variance
        inflation factor above 10)."""
        spend = self.spend_
        warnings: dict[str, str] = {}
        cv = spend.std(axis=0) / spend.mean(axis=0)
        for j, channel in enumerate(self.channels):
            if cv[j] < min_cv:
                warnings[channel] = (
                    f"spend varies too little to identify its effect (coefficient of variation "
                    f"{cv[j]:.2f} < {min_cv}): vary the spend (or run a test) before trusting it"
                )
                continue
            others = np.hstack([self._base_, np.delete(spend, j, axis=1) / self.spend_scale_[j]])
            target = spend[:, j] / self.spend_scale_[j]
            coef, *_ = np.linalg.lstsq(others, target, rcond=None)
            explained = 1 - np.sum((target - others @ coef) ** 2) / np.sum(
                (target - target.mean()) ** 2
            )
            if explained > max_explained:
                warnings[channel] = (
                    f"spend is {explained:.0%} explained by the other channels, trend, season "
                    "and controls: the data cannot separate its effect; run a test or vary it "
                    "on its own"
                )
        if len(self.channels) > 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                correlation = np.corrcoef(spend, rowvar=False)
            for i, j in itertools.combinations(range(len(self.channels)), 2):
                if abs(correlation[i, j]) > max_correlation:
                    for a, b in ((i, j), (j, i)):
                        text = (
                            f"spend moves with {self.channels[b]!r} (correlation "
                            f"{correlation[i, j]:.2f}): the data cannot split their effects"
                        )
                        warnings[self.channels[a]] = "; ".join(
                            filter(None, [warnings.get(self.channels[a]), text])
                        )
        return warnings

    def diagnostics(self) -> pd.DataFrame:
        """Fit and residual checks as (metric, value, note) rows."""
        self.check_fitted()
        residuals = self.sales_ - self.fitted_
        r2 = 1 - (residuals**2).sum() / ((self.sales_ - self.sales_.mean()) ** 2).sum()
        n = len(residuals)
        if self.holdout_weeks > 0:
            actual = self.sales_[n - self.holdout_weeks :]
            mape = float(np.mean(np.abs(actual - self.holdout_predicted_) / np.abs(actual)))
        else:
            mape = np.nan
        nrmse = float(np.sqrt(np.mean(residuals**2)) / (self.sales_.max() - self.sales_.min()))
        dw = float((np.diff(residuals) ** 2).sum() / (residuals**2).sum())
        _, p_value, lags = ljung_box(residuals)
        rows = [
            ("r2", float(r2), "share of the variance of sales fitted (in sample)"),
            ("nrmse", nrmse, "root mean squared error / range of sales (in sample)"),
            (
                "mape_holdout",
                mape,
                f"mean absolute % error on the last {self.holdout_weeks} periods, "
                "fitted without them",
            ),
            (
                "durbin_watson",
                dw,
                "near 2: no first-order autocorrelation of residuals; < 1.5 or > 2.5: some",
            ),
            (
                "ljung_box_p",
                p_value,
                f"Ljung-Box test of residual autocorrelation up to lag {lags}; "
                "small p: structure left",
            ),
        ]
        rows.extend(self.engine_diagnostics_)
        for channel, text in self._identification_warnings().items():
            rows.append(("identification_warning", np.nan, f"{channel}: {text}"))
        return pd.DataFrame(rows, columns=["metric", "value", "note"])


def _block_resample(values: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """A moving-block bootstrap resample: blocks of `block` consecutive values, concatenated."""
    n = len(values)
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    index = (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]
    return values[index]


def ljung_box(residuals: np.ndarray, lags: int | None = None) -> tuple[float, float, int]:
    """Ljung-Box Q = n(n+2) sum_k r_k^2 / (n-k), k = 1..lags, and its chi-square p-value."""
    n = len(residuals)
    lags = lags or min(10, n // 5)
    centred = residuals - residuals.mean()
    denominator = (centred**2).sum()
    r = np.array([(centred[k:] * centred[:-k]).sum() / denominator for k in range(1, lags + 1)])
    q = float(n * (n + 2) * np.sum(r**2 / (n - np.arange(1, lags + 1))))
    return q, float(chi2.sf(q, lags)), lags


def _fit_pymc(model: MixModel, table: pd.DataFrame) -> None:
    pymc_engine.fit(model, table)  # pymc-marketing itself is imported there, only when used


ENGINES: Registry[Engine] = Registry("mix model engine")
ENGINES.add(
    "ridge",
    Engine(
        "ridge",
        MixModel._fit_ridge,
        {},
        "Transformation search + non-negative ridge; intervals from block-bootstrap refits.",
    ),
)
ENGINES.add(
    "pymc",
    Engine(
        "pymc",
        _fit_pymc,
        pymc_engine.OPTIONS,
        "Bayesian posterior by NUTS through pymc-marketing (pip install 'omnimetrics[pymc]').",
    ),
)
