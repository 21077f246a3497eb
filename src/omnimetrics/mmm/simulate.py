"""Weekly sales simulated from known media effects, to judge the mix model against the truth.

Sales = base (level, trend, yearly seasonality, promotions) + sum over channels of
beta_c * hill(geometric_adstock(spend_c) / mean spend_c) + Gaussian noise. The true
contributions, ROI and marginal ROI come back with the series.

>>> world = simulate_mix(n_weeks=104, n_channels=2, seed=1)
>>> list(world.series.columns)
['week', 'sales', 'promotion', 'channel_1', 'channel_2']
>>> list(world.truth.columns)[:4]
['channel', 'decay', 'half_saturation', 'shape']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError
from omnimetrics.mmm.transforms import geometric_adstock, hill

WEEKS_PER_YEAR = 365.25 / 7


@dataclass(frozen=True)
class SimulatedMix:
    """A simulated weekly series with the effects that made it.

    `series`: week, sales, promotion, one spend column per channel.
    `truth`: one row per channel: decay, half_saturation (in units of the channel's mean weekly
    spend), shape, beta (sales at full saturation per week), spend, contribution, share, roi, mroi.
    `contributions`: week x channel true incremental sales; `base`: the true base sales per week.
    """

    series: pd.DataFrame
    truth: pd.DataFrame
    contributions: pd.DataFrame
    base: np.ndarray

    @property
    def channels(self) -> list[str]:
        return list(self.truth["channel"])

    def true_incremental_sales(self, multiples: np.ndarray) -> np.ndarray:
        """True incremental sales per channel over the period if each channel's weekly spend were
        multiplied by `multiples` (the truth against which budget plans are judged)."""
        spend = self.series[self.channels].to_numpy(dtype=float) * np.asarray(
            multiples, dtype=float
        )
        mean_spend = self.series[self.channels].to_numpy(dtype=float).mean(axis=0)
        truth = self.truth
        adstocked = geometric_adstock(spend / mean_spend, truth["decay"].to_numpy(), normalise=True)
        saturated = hill(adstocked, truth["half_saturation"].to_numpy(), truth["shape"].to_numpy())
        return (saturated * truth["beta"].to_numpy()).sum(axis=0)


def _spend_pattern(rng: np.random.Generator, n_weeks: int) -> np.ndarray:
    """A positive weekly pattern of mean one: an AR(1) on the log scale, with some dark weeks."""
    rho, sigma = rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.7)
    shocks = rng.normal(0.0, sigma * np.sqrt(1 - rho**2), n_weeks)
    log_level = np.zeros(n_weeks)
    log_level[0] = rng.normal(0.0, sigma)
    for week in range(1, n_weeks):  # a 156-step recursion, not a loop over rows of data
        log_level[week] = rho * log_level[week - 1] + shocks[week]
    pattern = np.exp(log_level)
    if rng.uniform() < 0.4:  # flighting: the channel goes dark some weeks
        pattern[rng.uniform(size=n_weeks) < rng.uniform(0.1, 0.3)] = 0.0
    return pattern / pattern.mean()


def simulate_mix(
    n_weeks: int = 156,
    n_channels: int = 3,
    seed: int = 0,
    noise: float = 0.04,
    media_share: tuple[float, float] = (0.2, 0.4),
    start: str = "2022-01-03",
) -> SimulatedMix:
    """Simulate weekly sales with known adstock, saturation and channel effects.

    `noise` is the standard deviation of the weekly noise as a share of the base level;
    `media_share` the range from which the media's share of total sales is drawn.
    """
    if n_weeks < 20 or n_channels < 1:
        raise ConfigError(
            f"simulate_mix needs n_weeks >= 20 and n_channels >= 1; got {n_weeks}, {n_channels}."
        )
    rng = np.random.default_rng(seed)
    channels = [f"channel_{i + 1}" for i in range(n_channels)]
    mean_spend = rng.uniform(5_000, 50_000, n_channels)
    spend = np.column_stack([_spend_pattern(rng, n_weeks) for _ in channels]) * mean_spend
    decay = rng.uniform(0.1, 0.7, n_channels)
    half_saturation = rng.uniform(0.5, 2.0, n_channels)
    shape = rng.uniform(0.8, 2.5, n_channels)
    roi_target = rng.uniform(0.5, 4.0, n_channels)

    saturated = hill(
        geometric_adstock(spend / mean_spend, decay, normalise=True), half_saturation, shape
    )
    beta = roi_target * spend.sum(axis=0) / saturated.sum(axis=0)
    contributions = saturated * beta
    media_per_week = contributions.sum() / n_weeks

    share = rng.uniform(*media_share)
    level = media_per_week * (1 - share) / share
    weeks = np.arange(n_weeks)
    trend = level * rng.uniform(-0.15, 0.15) * (weeks / n_weeks - 0.5)
    phase = rng.uniform(0, 2 * np.pi)
    seasonality = (
        level * rng.uniform(0.05, 0.15) * np.sin(2 * np.pi * weeks / WEEKS_PER_YEAR + phase)
    )
    promotion = (rng.uniform(size=n_weeks) < 0.08).astype(float)
    base = level + trend + seasonality + level * 0.08 * promotion
    sales = base + contributions.sum(axis=1) + rng.normal(0.0, noise * level, n_weeks)

    dates = pd.date_range(start, periods=n_weeks, freq="7D")
    series = pd.DataFrame({"week": dates, "sales": sales, "promotion": promotion})
    for j, channel in enumerate(channels):
        series[channel] = spend[:, j]

    # marginal ROI: d(contribution)/d(spend) when the whole series is scaled, at the current level
    step = 1e-4
    scaled = geometric_adstock(spend / mean_spend, decay, normalise=True)
    up = hill(scaled * (1 + step), half_saturation, shape).sum(axis=0)
    down = hill(scaled * (1 - step), half_saturation, shape).sum(axis=0)
    mroi = beta * (up - down) / (2 * step * spend.sum(axis=0))

    truth = pd.DataFrame(
        {
            "channel": channels,
            "decay": decay,
            "half_saturation": half_saturation,
            "shape": shape,
            "beta": beta,
            "spend": spend.sum(axis=0),
            "contribution": contributions.sum(axis=0),
            "share": contributions.sum(axis=0) / contributions.sum(),
            "roi": contributions.sum(axis=0) / spend.sum(axis=0),
            "mroi": mroi,
        }
    )
    return SimulatedMix(
        series=series,
        truth=truth,
        contributions=pd.DataFrame(contributions, columns=channels, index=dates),
        base=base,
    )
