"""Are omnichannel customers worth more? The raw difference in value after a cut date between
customers omnichannel at the cut and single-channel ones, and an estimate that compares like
with like (exact stratification on the pre-cut history). Design and caveats: docs/clv.md,
"Omnichannel vs single-channel value"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.clv.summary import require_columns
from omnimetrics.errors import ConfigError, SchemaError

__all__ = ["OmniValue", "omni_value", "stratified_att"]

ORDER_CAP = 6
"""Pre-cut orders are stratified as 1, 2, ..., ORDER_CAP - 1, ORDER_CAP or more."""
RECENCY_EDGES_DAYS = (30, 90, 180, 365)
"""Days from the last pre-cut order to the cut: bins [0, 30), [30, 90), ..., [365, inf)."""
TENURE_EDGES_DAYS = (90, 180, 365, 730)
"""Days from the first order to the cut: bins [0, 90), [90, 180), ..., [730, inf)."""
OUTCOMES = ("revenue", "orders")
INTERVAL = (
    "normal approximation; raw: Welch's unequal-variance standard error; adjusted: analytic "
    "stratified variance sum_s w_s^2 (v_omni_s / n_omni_s + v_single_s / n_single_s) with the "
    "strata and their omni counts held fixed (a stratum's group of one customer borrows that "
    "group's pooled within-stratum variance); relative: delta method on log(omni / single)"
)
CAVEAT = (
    "The adjusted estimate compares omnichannel and single-channel customers with the same "
    "pre-cut orders (capped), recency and tenure at the cut{segment}; it cannot control for "
    "what the orders do not show (taste, income, distance to a store, a move), nor for the part "
    "of the pre-cut history that omnichannel buying itself caused, and it is an association "
    "under that assumption, not a proof of cause."
)


@dataclass(frozen=True)
class AttEstimate:
    """A difference of means with its standard error, and the ratio of the two means."""

    treated_mean: float
    control_mean: float
    difference: float
    std_error: float
    log_ratio_std_error: float
    treated_n: int
    control_n: int


@dataclass(frozen=True)
class OmniValue:
    """Value after the cut, omnichannel vs single-channel customers at the cut.

    `table`: one row per outcome (revenue, orders) and estimate (raw, adjusted) with the means,
    counts, difference, interval and relative difference; `strata`: one row per stratum.
    """

    cut: datetime
    end: datetime
    post_days: float
    table: pd.DataFrame
    strata: pd.DataFrame
    matched_share: float
    interval: str
    caveat: str


def stratified_att(stratum: np.ndarray, treated: np.ndarray, y: np.ndarray) -> AttEstimate:
    """Effect on the treated by exact stratification: the treated-count-weighted mean of the
    within-stratum differences, over the strata holding both groups (the others are unmatched).

    >>> att = stratified_att(np.array([0, 0, 1, 1, 1]), np.array([1, 0, 1, 0, 0]),
    ...                      np.array([4.0, 1.0, 9.0, 2.0, 4.0]))
    >>> float(att.difference)  # (1 * (4 - 1) + 1 * (9 - 3)) / 2
    4.5
    """
    codes, inverse = np.unique(np.asarray(stratum), return_inverse=True)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    k = len(codes)
    n_t, mean_t, var_t = _cell_moments(inverse[t], y[t], k)
    n_c, mean_c, var_c = _cell_moments(inverse[~t], y[~t], k)
    both = (n_t > 0) & (n_c > 0)
    w = np.where(both, n_t, 0) / max(n_t[both].sum(), 1)
    treated_mean = float((w * mean_t).sum())
    control_mean = float((w * mean_c).sum())
    var_treated = float((w[both] ** 2 * var_t[both] / n_t[both]).sum())
    var_control = float((w[both] ** 2 * var_c[both] / n_c[both]).sum())
    return AttEstimate(
        treated_mean=treated_mean,
        control_mean=control_mean,
        difference=treated_mean - control_mean,
        std_error=float(np.sqrt(var_treated + var_control)),
        log_ratio_std_error=_log_ratio_se(treated_mean, var_treated, control_mean, var_control),
        treated_n=int(n_t[both].sum()),
        control_n=int(n_c[both].sum()),
    )


def _cell_moments(cell: np.ndarray, y: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Count, mean and sample variance per cell; a cell of one customer (or none) gets the
    pooled within-cell variance of the cells of two or more (the overall variance if none)."""
    n = np.bincount(cell, minlength=k).astype(np.float64)
    total = np.bincount(cell, weights=y, minlength=k)
    mean = np.divide(total, n, out=np.zeros(k), where=n > 0)
    sq = np.bincount(cell, weights=(y - mean[cell]) ** 2, minlength=k)
    several = n >= 2
    if several.any():
        pooled = sq[several].sum() / (n[several] - 1).sum()
    else:
        pooled = float(y.var(ddof=1)) if len(y) >= 2 else 0.0
    var = np.divide(sq, n - 1, out=np.full(k, pooled), where=several)
    return n, mean, var


def _log_ratio_se(treated: float, var_treated: float, control: float, var_control: float) -> float:
    """Delta-method standard error of log(treated / control); NaN when a mean is not positive."""
    if treated <= 0 or control <= 0:
        return float("nan")
    return float(np.sqrt(var_treated / treated**2 + var_control / control**2))


def _welch(y_t: np.ndarray, y_c: np.ndarray) -> AttEstimate:
    """The raw difference of means, Welch's standard error."""
    m_t, m_c = float(y_t.mean()), float(y_c.mean())
    v_t = float(y_t.var(ddof=1)) / len(y_t) if len(y_t) > 1 else 0.0
    v_c = float(y_c.var(ddof=1)) / len(y_c) if len(y_c) > 1 else 0.0
    return AttEstimate(
        treated_mean=m_t, control_mean=m_c, difference=m_t - m_c,
        std_error=float(np.sqrt(v_t + v_c)), log_ratio_std_error=_log_ratio_se(m_t, v_t, m_c, v_c),
        treated_n=len(y_t), control_n=len(y_c),
    )  # fmt: skip


def _as_utc(when: object, name: str) -> datetime:
    """A date (midnight UTC), an aware or naive (taken as UTC) datetime, or an ISO text."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise ConfigError(
                f"{name} must be a date or a datetime (e.g. '2025-07-01'); got {when!r}"
            ) from None
    if isinstance(when, datetime):
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if isinstance(when, date):
        return datetime(when.year, when.month, when.day, tzinfo=UTC)
    raise ConfigError(f"{name} must be a date or a datetime (e.g. '2025-07-01'); got {when!r}")


def _customers(orders: ir.Table, cut: int, end: int | None) -> tuple[ir.Table, int, int]:
    """Per person with an order before the cut (in the engine): pre-cut orders, sales channels,
    first and last order, and orders and revenue from the cut to the end; the data's span."""
    if end is not None:
        orders = orders.filter(orders.at.epoch_seconds() < end)
    at = orders.at.epoch_seconds()
    span = orders.aggregate(first=at.min(), last=at.max()).to_pandas()
    first, last = span.iloc[0]["first"], span.iloc[0]["last"]
    if pd.isna(first):
        raise ConfigError("omni_value: the orders table has no order (before `end`): load "
                          "orders first, or choose a later end.")  # fmt: skip
    linked = orders.filter(orders.person_id.notnull())
    at = linked.at.epoch_seconds()
    before = at < cut
    per = linked.group_by("person_id").agg(
        pre_orders=before.sum(),
        pre_channels=linked.sales_channel.nunique(where=before),
        first_at=at.min(where=before),
        last_at=at.max(where=before),
        post_orders=(~before).sum(),
        post_revenue=linked.revenue.sum(where=~before).fill_null(0.0),
    )
    per = per.filter(per.pre_orders >= 1)
    return per, int(first), int(last)


def omni_value(
    orders: ir.Table,
    cut: date | datetime | str,
    *,
    segments: ir.Table | None = None,
    segment_column: str = "segment",
    end: date | datetime | str | None = None,
    order_cap: int = ORDER_CAP,
    recency_edges_days: tuple[float, ...] = RECENCY_EDGES_DAYS,
    tenure_edges_days: tuple[float, ...] = TENURE_EDGES_DAYS,
    confidence: float = 0.95,
) -> OmniValue:
    """Value per customer from `cut` to the end of the orders (or `end`) of the customers
    omnichannel at the cut (orders in two or more sales channels before it) against the
    single-channel ones: raw, and adjusted by exact stratification on pre-cut orders (capped at
    `order_cap`), recency and tenure at the cut (bins in days) and `segments[segment_column]`.

    `orders`: person_id, at (timestamp), revenue, sales_channel (e.g. `Facts.orders`).
    `segments`: one row per person_id, a segment measured before the cut if possible.
    """
    require_columns(orders, ["person_id", "at", "revenue", "sales_channel"], "The orders table")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    if isinstance(order_cap, bool) or not isinstance(order_cap, int) or order_cap < 2:
        raise ConfigError(f"order_cap must be an integer >= 2 (omni needs two orders); "
                          f"got {order_cap!r}")  # fmt: skip
    cut_at = _as_utc(cut, "cut")
    end_at = None if end is None else _as_utc(end, "end")
    cut_s = int(cut_at.timestamp())
    end_s = None if end_at is None else int(end_at.timestamp())
    per, first, last = _customers(orders, cut_s, end_s)
    if not first < cut_s <= last:
        raise ConfigError(
            f"omni_value: the cut {cut_at.isoformat()} is outside the orders, which run from "
            f"{_iso(first)} to {_iso(last)}: choose a cut after the first order and before the "
            "last, leaving a pre-period and a post-period (e.g. the middle of the data)."
        )
    if segments is not None:
        per = _with_segments(per, segments, segment_column)
    customers = per.to_pandas()
    if customers["person_id"].duplicated().any():
        raise SchemaError(
            f"The segments table has several rows for some person_id (e.g. "
            f"{customers.loc[customers['person_id'].duplicated(), 'person_id'].iloc[0]!r}): "
            "give one row per person."
        )
    post_end = end_s if end_s is not None else last
    omni = (customers["pre_channels"] >= 2).to_numpy()
    _require_both_groups(omni, cut_at)
    stratum = _strata(customers, cut_s, order_cap, recency_edges_days, tenure_edges_days,
                      segments is not None)  # fmt: skip
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows, strata = [], None
    for outcome in OUTCOMES:
        y = customers[f"post_{outcome}"].to_numpy(dtype=np.float64)
        raw = _welch(y[omni], y[~omni])
        adjusted = stratified_att(stratum, omni, y)
        if adjusted.treated_n == 0:
            raise ConfigError(
                "omni_value: no omnichannel customer has a single-channel customer with the same "
                "pre-cut orders, recency, tenure and segment: use coarser bins "
                "(recency_edges_days, tenure_edges_days), a lower order_cap or no segments."
            )
        rows.append(_row(outcome, "raw", raw, z, omni.sum()))
        rows.append(_row(outcome, "adjusted", adjusted, z, omni.sum()))
        if outcome == "revenue":
            strata = _strata_table(customers, stratum, omni, y)
    table = pd.DataFrame(rows)
    matched_share = float(table["omni_customers"].iloc[1] / omni.sum())
    segment_text = f" and {segment_column}" if segments is not None else ""
    return OmniValue(
        cut=cut_at, end=datetime.fromtimestamp(post_end, UTC),
        post_days=(post_end - cut_s) / 86_400, table=table, strata=strata,
        matched_share=matched_share, interval=INTERVAL,
        caveat=CAVEAT.format(segment=segment_text),
    )  # fmt: skip


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _require_both_groups(omni: np.ndarray, cut_at: datetime) -> None:
    for group, count in (("omnichannel", int(omni.sum())), ("single-channel", int((~omni).sum()))):
        if count == 0:
            raise ConfigError(
                f"omni_value: no {group} customer before the cut {cut_at.isoformat()} "
                f"({len(omni)} customers ordered before it): there is nothing to compare; "
                "choose a later cut, or check that orders carry their sales_channel."
            )


def _with_segments(per: ir.Table, segments: ir.Table, column: str) -> ir.Table:
    require_columns(segments, ["person_id", column], "The segments table")
    if column == "channel_mix":
        raise ConfigError(
            "segment_column='channel_mix' is the treatment itself (omnichannel or not, over all "
            "the data): stratifying on it leaves nothing to compare. Choose a segment measured "
            "before the cut, e.g. an RFM or acquisition segment."
        )
    seg = segments.select("person_id", segment=segments[column].cast("string"))
    joined = per.left_join(seg, "person_id")
    return joined.select(*(per[c] for c in per.columns),
                         segment=joined.segment.fill_null("(none)"))  # fmt: skip


def _strata(customers: pd.DataFrame, cut: int, cap: int, recency_edges: tuple[float, ...],
            tenure_edges: tuple[float, ...], by_segment: bool) -> np.ndarray:  # fmt: skip
    """One integer per stratum: capped pre-cut orders x recency bin x tenure bin x segment."""
    days = 86_400
    keys = pd.DataFrame({
        "orders": np.minimum(customers["pre_orders"].to_numpy(), cap),
        "recency": np.digitize((cut - customers["last_at"].to_numpy()) / days, recency_edges),
        "tenure": np.digitize((cut - customers["first_at"].to_numpy()) / days, tenure_edges),
    })  # fmt: skip
    if by_segment:
        keys["segment"] = customers["segment"].to_numpy()
    return keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()


def _strata_table(customers: pd.DataFrame, stratum: np.ndarray, omni: np.ndarray,
                  y: np.ndarray) -> pd.DataFrame:  # fmt: skip
    """Per stratum: omni and single customers and their mean post-cut revenue, matched or not."""
    frame = pd.DataFrame({"stratum": stratum, "omni": omni, "y": y,
                          "pre_orders": customers["pre_orders"].to_numpy()})  # fmt: skip
    grouped = frame.groupby(["stratum", "omni"])["y"].agg(["size", "mean"]).unstack("omni")
    grouped = grouped.reindex(columns=pd.MultiIndex.from_product([["size", "mean"],
                                                                  [True, False]]))  # fmt: skip
    out = pd.DataFrame({
        "omni_customers": grouped[("size", True)].fillna(0).astype(int),
        "single_customers": grouped[("size", False)].fillna(0).astype(int),
        "omni_mean_revenue": grouped[("mean", True)],
        "single_mean_revenue": grouped[("mean", False)],
    })  # fmt: skip
    out["matched"] = (out["omni_customers"] > 0) & (out["single_customers"] > 0)
    return out.reset_index()


def _row(outcome: str, estimate: str, att: AttEstimate, z: float, omni_total: int) -> dict:
    ratio = att.treated_mean / att.control_mean if att.control_mean > 0 else float("nan")
    spread = np.exp(z * att.log_ratio_std_error)
    return {
        "outcome": outcome,
        "estimate": estimate,
        "omni_customers": att.treated_n,
        "single_customers": att.control_n,
        "omni_mean": att.treated_mean,
        "single_mean": att.control_mean,
        "difference": att.difference,
        "std_error": att.std_error,
        "ci_low": att.difference - z * att.std_error,
        "ci_high": att.difference + z * att.std_error,
        "relative": ratio - 1,
        "relative_ci_low": ratio / spread - 1,
        "relative_ci_high": ratio * spread - 1,
        "omni_matched_share": att.treated_n / omni_total,
    }
