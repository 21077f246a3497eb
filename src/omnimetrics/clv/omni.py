"""Are omnichannel customers worth more? The raw difference in value after a cut date between
customers omnichannel at the cut and single-channel ones (what is usually quoted, selection
included), and the effect of becoming omnichannel by risk-set (landmark) matching: the order at
which a customer becomes omnichannel against the orders, at a comparable moment, of customers
alike in their history who are still single-channel. Design and caveats: docs/clv.md,
"Omnichannel vs single-channel value"."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.clv.summary import require_columns
from omnimetrics.errors import ConfigError, SchemaError

__all__ = ["AttEstimate", "OmniValue", "landmark_att", "omni_value"]

DAY = 86_400
WINDOW_DAYS = 180
"""Outcome window after each landmark: orders and revenue in (t, t + window]."""
ORDER_CAP = 6
"""Orders so far (the landmark order included) are stratified as 2, ..., ORDER_CAP or more."""
RECENCY_EDGES_DAYS = (7, 30, 90, 180, 365)
"""Days from the previous order to the landmark order: bins [0, 7), [7, 30), ..., [365, inf)."""
TENURE_EDGES_DAYS = (30, 90, 180, 365)
"""Days from the first order to the landmark order: bins [0, 30), ..., [365, inf)."""
OUTCOMES = ("revenue", "orders")
ESTIMANDS = {
    "raw": "customers omnichannel at the cut vs single-channel ones, value from the cut to the "
    "end (an association: selection included)",
    "adjusted": "effect of becoming omnichannel now vs not now, on those who became "
    "omnichannel: value in the {window:g} days after the order in a second sales channel vs "
    "after an order of a single-channel customer alike at that moment",
}
INTERVAL = (
    "normal approximation; raw: Welch's unequal-variance standard error; adjusted: "
    "cluster-robust by person (a single-channel customer is a control at several orders): the "
    "estimate is linear in the outcomes, each person's influence is summed over their "
    "landmarks, variance G / (G - 1) sum_p U_p^2 over the G persons, a stratum's control "
    "residuals scaled by sqrt(n / (n - 1)) and a stratum of one control borrowing the pooled "
    "within-stratum control variance; relative: delta method on log(omni / single)"
)
CAVEAT = (
    "The adjusted estimate compares each customer at the order where they became omnichannel "
    "with single-channel customers at an order with the same orders so far (capped), days since "
    "the previous order, tenure{month}{segment}. It controls for what that history shows, not "
    "for what it does not (taste, income, distance to a store, a move, a campaign that made "
    "them try the other channel), so it is an effect under that assumption, not a proof of "
    "cause. Its control group may become omnichannel later in the window: it measures "
    "becoming omnichannel now rather than not now."
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
    control_persons: int


@dataclass(frozen=True)
class OmniValue:
    """Value of omnichannel vs single-channel customers.

    `table`: one row per outcome (revenue, orders) and estimate: `raw` (customers omnichannel at
    the cut vs single-channel, value from the cut to the end) and `adjusted` (the effect of
    becoming omnichannel, landmark matching, value in the window), each with its `estimand`;
    `strata`: one row per stratum of landmarks.
    """

    cut: datetime
    end: datetime
    post_days: float
    window_days: float
    table: pd.DataFrame
    strata: pd.DataFrame
    matched_share: float
    interval: str
    caveat: str


def landmark_att(person: np.ndarray, stratum: np.ndarray, treated: np.ndarray,
                 y: np.ndarray) -> AttEstimate:  # fmt: skip
    """Effect on the treated by exact stratification of landmarks, with a standard error
    cluster-robust by person: the treated-count-weighted mean of the within-stratum differences,
    over the strata holding both groups (the others are unmatched).

    >>> att = landmark_att(np.array([1, 2, 3, 2, 4]), np.array([0, 0, 1, 1, 1]),
    ...                    np.array([1, 0, 1, 0, 0]), np.array([4.0, 1.0, 9.0, 2.0, 4.0]))
    >>> float(att.difference)  # (1 * (4 - 1) + 1 * (9 - 3)) / 2
    4.5
    """
    _, cell = np.unique(np.asarray(stratum), return_inverse=True)
    _, who = np.unique(np.asarray(person), return_inverse=True)
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype=np.float64)
    k = int(cell.max()) + 1 if len(cell) else 0
    n_t = np.bincount(cell[t], minlength=k).astype(np.float64)
    n_c = np.bincount(cell[~t], minlength=k).astype(np.float64)
    sum_t = np.bincount(cell[t], weights=y[t], minlength=k)
    sum_c = np.bincount(cell[~t], weights=y[~t], minlength=k)
    both = (n_t > 0) & (n_c > 0)
    total_t = float(n_t[both].sum())
    if total_t == 0:
        nan = float("nan")
        return AttEstimate(nan, nan, nan, nan, nan, 0, 0, 0)
    mean_c = np.divide(sum_c, n_c, out=np.zeros(k), where=n_c > 0)
    weight = np.where(both, n_t, 0.0) / total_t
    treated_mean = float(sum_t[both].sum() / total_t)
    control_mean = float((weight * mean_c).sum())
    # Influence of each landmark on the treated mean and on the weighted control mean (the
    # treated also move the control mean through the stratum weights).
    matched = both[cell]
    resid_c = y - mean_c[cell]
    several = n_c >= 2
    scale = np.sqrt(np.divide(n_c, n_c - 1, out=np.ones(k), where=several))
    psi_t = np.where(t & matched, (y - treated_mean) / total_t, 0.0)
    psi_c = np.where(
        matched,
        np.where(t, (mean_c[cell] - control_mean) / total_t,
                 weight[cell] / np.maximum(n_c[cell], 1) * scale[cell] * resid_c),
        0.0,
    )  # fmt: skip
    u_t = np.bincount(who, weights=psi_t)
    u_c = np.bincount(who, weights=psi_c)
    clusters = int((np.bincount(who, weights=matched) > 0).sum())
    factor = clusters / (clusters - 1) if clusters > 1 else float("nan")
    # A stratum of one control has no residual: it borrows the pooled control variance.
    lone = both & ~several
    pooled = _pooled_variance(resid_c[~t], several[cell[~t]], n_c[several])
    extra = float((weight[lone] ** 2).sum() * pooled)
    var = factor * (float(((u_t - u_c) ** 2).sum()) + extra)
    if treated_mean > 0 and control_mean > 0:
        log_var = factor * (float(((u_t / treated_mean - u_c / control_mean) ** 2).sum())
                            + extra / control_mean**2)  # fmt: skip
        log_se = float(np.sqrt(log_var))
    else:
        log_se = float("nan")
    control_rows = ~t & matched
    return AttEstimate(
        treated_mean=treated_mean, control_mean=control_mean,
        difference=treated_mean - control_mean, std_error=float(np.sqrt(var)),
        log_ratio_std_error=log_se, treated_n=int(total_t), control_n=int(control_rows.sum()),
        control_persons=len(np.unique(who[control_rows])),
    )  # fmt: skip


def _pooled_variance(resid: np.ndarray, in_several: np.ndarray, sizes: np.ndarray) -> float:
    """Pooled within-stratum variance of the controls of strata of two or more (0 if none)."""
    dof = float((sizes - 1).sum())
    return float((resid[in_several] ** 2).sum() / dof) if dof > 0 else 0.0


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
        treated_n=len(y_t), control_n=len(y_c), control_persons=len(y_c),
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


def _customers(linked: ir.Table, cut: int) -> ir.Table:
    """Per person with an order before the cut (in the engine): pre-cut sales channels, and
    orders and revenue from the cut to the end."""
    at = linked.at.epoch_seconds()
    before = at < cut
    per = linked.group_by("person_id").agg(
        pre_orders=before.sum(),
        pre_channels=linked.sales_channel.nunique(where=before),
        post_orders=(~before).sum(),
        post_revenue=linked.revenue.sum(where=~before).fill_null(0.0),
    )
    return per.filter(per.pre_orders >= 1)


def _landmarks(linked: ir.Table, window: int, end: int) -> ir.Table:
    """Every order with an earlier one whose window ends by `end` (in the engine), as a landmark:
    treated if it is the person's first order in a sales channel other than their first
    order's, control if the person is still single-channel after it; with the history at that
    moment (orders so far, the previous and first order) and the orders and revenue in
    (t, t + window]. Orders at the same second are ordered by sales channel."""
    o = linked.select("person_id", "revenue", "sales_channel", ts=linked.at.epoch_seconds())
    ordered = ibis.window(group_by="person_id", order_by=["ts", "sales_channel"])
    o = o.mutate(
        orders_so_far=ibis.row_number().over(ordered) + 1,
        first_channel=o.sales_channel.first().over(ordered),
        first_ts=o.ts.min().over(ibis.window(group_by="person_id")),
        previous_ts=o.ts.lag().over(ordered),
    )
    o = o.mutate(other=(o.sales_channel != o.first_channel).cast("int64"))
    so_far = ibis.window(group_by="person_id", order_by=["ts", "sales_channel"], rows=(None, 0))
    ahead = ibis.window(group_by="person_id", order_by="ts", range=(0, window))
    same = ibis.window(group_by="person_id", order_by="ts", range=(0, 0))
    o = o.mutate(
        switched=o.other.sum().over(so_far),
        y_orders=o.ts.count().over(ahead) - o.ts.count().over(same),
        y_revenue=o.revenue.sum().over(ahead) - o.revenue.sum().over(same),
    )
    o = o.filter((o.orders_so_far >= 2) & (o.ts + window <= end)
                 & ((o.switched == 0) | ((o.other == 1) & (o.switched == 1))))  # fmt: skip
    return o.select(
        "person_id", "ts", "orders_so_far", "first_ts", "previous_ts", "y_orders",
        y_revenue=o.y_revenue.fill_null(0.0), treated=o.switched == 1,
    )  # fmt: skip


def omni_value(
    orders: ir.Table,
    cut: date | datetime | str,
    *,
    window_days: float = WINDOW_DAYS,
    segments: ir.Table | None = None,
    segment_column: str = "segment",
    end: date | datetime | str | None = None,
    order_cap: int = ORDER_CAP,
    recency_edges_days: tuple[float, ...] = RECENCY_EDGES_DAYS,
    tenure_edges_days: tuple[float, ...] = TENURE_EDGES_DAYS,
    by_month: bool = True,
    confidence: float = 0.95,
) -> OmniValue:
    """Omnichannel vs single-channel value, two rows per outcome (revenue, orders).

    `raw`: value from `cut` to the end of the orders (or `end`) of customers omnichannel at the
    cut (orders in two or more sales channels before it) minus that of single-channel ones.
    `adjusted`: the effect of becoming omnichannel (risk-set matching): value in the
    `window_days` after the order at which a customer became omnichannel minus that after an
    order of a still single-channel customer in the same stratum (orders so far capped at
    `order_cap`, days since the previous order, tenure, calendar month if `by_month`,
    `segments[segment_column]`), weighted by the omnichannel count of each stratum.

    `orders`: person_id, at (timestamp), revenue, sales_channel (e.g. `Facts.orders`).
    `segments`: one row per person_id, a segment measured before the customers' landmarks.
    """
    require_columns(orders, ["person_id", "at", "revenue", "sales_channel"], "The orders table")
    _check_settings(confidence, order_cap, window_days)
    cut_at = _as_utc(cut, "cut")
    end_at = None if end is None else _as_utc(end, "end")
    cut_s = int(cut_at.timestamp())
    if end_at is not None:
        orders = orders.filter(orders.at.epoch_seconds() < int(end_at.timestamp()))
    first, last = _span(orders)
    if not first < cut_s <= last:
        raise ConfigError(
            f"omni_value: the cut {cut_at.isoformat()} is outside the orders, which run from "
            f"{_iso(first)} to {_iso(last)}: choose a cut after the first order and before the "
            "last, leaving a pre-period and a post-period (e.g. the middle of the data)."
        )
    post_end = int(end_at.timestamp()) if end_at is not None else last
    window = round(window_days * DAY)
    if window >= post_end - first:
        raise ConfigError(
            f"omni_value: window_days={window_days:g} is as long as the data ({_iso(first)} to "
            f"{_iso(post_end)}, {(post_end - first) / DAY:.0f} days): choose a shorter window "
            "(e.g. a quarter of the data's span), so that orders have a whole window after them."
        )
    linked = orders.filter(orders.person_id.notnull())
    seg = None if segments is None else _segments(segments, segment_column)
    customers = _customers(linked, cut_s).to_pandas()
    omni = (customers["pre_channels"] >= 2).to_numpy()
    _require_both_groups(omni, cut_at)
    marks = _landmarks(linked, window, post_end)
    if seg is not None:
        joined = marks.left_join(seg, "person_id")
        marks = joined.select(*(marks[c] for c in marks.columns),
                              segment=joined.segment.fill_null("(none)"))  # fmt: skip
    marks = marks.to_pandas()
    treated = marks["treated"].to_numpy(dtype=bool)
    _require_landmarks(treated, window_days, post_end - window)
    keys = _strata_keys(marks, order_cap, recency_edges_days, tenure_edges_days, by_month)
    stratum = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()
    person = pd.factorize(marks["person_id"])[0]
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for outcome in OUTCOMES:
        y_cut = customers[f"post_{outcome}"].to_numpy(dtype=np.float64)
        raw = _welch(y_cut[omni], y_cut[~omni])
        adjusted = landmark_att(person, stratum, treated, marks[f"y_{outcome}"].to_numpy())
        if adjusted.treated_n == 0:
            raise ConfigError(
                "omni_value: no customer who became omnichannel has a single-channel customer "
                "with the same orders so far, days since the previous order, tenure, month and "
                "segment: use coarser bins (recency_edges_days, tenure_edges_days), a lower "
                "order_cap, by_month=False or no segments."
            )
        rows.append(_row(outcome, "raw", raw, z, int(omni.sum()), (post_end - cut_s) / DAY))
        rows.append(_row(outcome, "adjusted", adjusted, z, int(treated.sum()), window / DAY))
    table = pd.DataFrame(rows)
    matched_share = float(table["omni_matched_share"].iloc[1])
    month = ", calendar month" if by_month else ""
    segment_text = f" and {segment_column}" if segments is not None else ""
    return OmniValue(
        cut=cut_at, end=datetime.fromtimestamp(post_end, UTC),
        post_days=(post_end - cut_s) / DAY, window_days=window / DAY, table=table,
        strata=_strata_table(keys, stratum, treated, person, marks),
        matched_share=matched_share, interval=INTERVAL,
        caveat=CAVEAT.format(month=month, segment=segment_text),
    )  # fmt: skip


def _check_settings(confidence: float, order_cap: int, window_days: float) -> None:
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    if isinstance(order_cap, bool) or not isinstance(order_cap, int) or order_cap < 2:
        raise ConfigError(f"order_cap must be an integer >= 2 (omni needs two orders); "
                          f"got {order_cap!r}")  # fmt: skip
    if (isinstance(window_days, bool) or not isinstance(window_days, int | float)
            or not window_days > 0):  # fmt: skip
        raise ConfigError(f"window_days must be a positive number of days, e.g. 180; "
                          f"got {window_days!r}")  # fmt: skip


def _span(orders: ir.Table) -> tuple[int, int]:
    at = orders.at.epoch_seconds()
    span = orders.aggregate(first=at.min(), last=at.max()).to_pandas()
    first, last = span.iloc[0]["first"], span.iloc[0]["last"]
    if pd.isna(first):
        raise ConfigError("omni_value: the orders table has no order (before `end`): load "
                          "orders first, or choose a later end.")  # fmt: skip
    return int(first), int(last)


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


def _require_landmarks(treated: np.ndarray, window_days: float, last_landmark: int) -> None:
    if not treated.any():
        raise ConfigError(
            f"omni_value: no customer became omnichannel (a first order in a second sales "
            f"channel) by {_iso(last_landmark)}, the last day with {window_days:g} days of data "
            "after it: choose a shorter window_days, or check that orders carry their "
            "sales_channel."
        )
    if treated.all():
        raise ConfigError(
            f"omni_value: no single-channel customer ordered again by {_iso(last_landmark)} "
            f"(the last day with {window_days:g} days of data after it): there is no one to "
            "compare with; choose a shorter window_days."
        )


def _segments(segments: ir.Table, column: str) -> ir.Table:
    require_columns(segments, ["person_id", column], "The segments table")
    if column == "channel_mix":
        raise ConfigError(
            "segment_column='channel_mix' is the treatment itself (omnichannel or not, over all "
            "the data): stratifying on it leaves nothing to compare. Choose a segment measured "
            "before the landmarks, e.g. an RFM or acquisition segment."
        )
    counts = segments.group_by("person_id").agg(n=segments.count())
    repeated = counts.filter(counts.n > 1).limit(1).to_pandas()
    if len(repeated):
        raise SchemaError(
            f"The segments table has several rows for some person_id (e.g. "
            f"{repeated['person_id'].iloc[0]!r}): give one row per person."
        )
    return segments.select("person_id", segment=segments[column].cast("string"))


def _bin_labels(edges: tuple[float, ...]) -> np.ndarray:
    bounds = [0, *edges]
    labels = [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(bounds)]
    return np.array([*labels, f"{bounds[-1]:g}+"])


def _strata_keys(marks: pd.DataFrame, cap: int, recency_edges: tuple[float, ...],
                 tenure_edges: tuple[float, ...], by_month: bool) -> pd.DataFrame:  # fmt: skip
    """Per landmark: capped orders so far, days since the previous order and since the first
    (binned, labelled), calendar month (UTC) and segment."""
    ts = marks["ts"].to_numpy(dtype=np.int64)
    since_previous = (ts - marks["previous_ts"].to_numpy(dtype=np.int64)) / DAY
    tenure = (ts - marks["first_ts"].to_numpy(dtype=np.int64)) / DAY
    orders = np.minimum(marks["orders_so_far"].to_numpy(dtype=np.int64), cap)
    keys = pd.DataFrame({
        "orders_so_far": np.where(orders >= cap, f"{cap}+", orders.astype(str)),
        "days_since_previous": _bin_labels(recency_edges)[np.digitize(since_previous,
                                                                      recency_edges)],
        "tenure_days": _bin_labels(tenure_edges)[np.digitize(tenure, tenure_edges)],
    })  # fmt: skip
    if by_month:
        keys["month"] = ts.astype("datetime64[s]").astype("datetime64[M]").astype(str)
    if "segment" in marks.columns:
        keys["segment"] = marks["segment"].to_numpy()
    return keys


def _strata_table(keys: pd.DataFrame, stratum: np.ndarray, treated: np.ndarray,
                  person: np.ndarray, marks: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """Per stratum: its keys, omni and single landmarks (and single persons), their mean
    orders and revenue in the window, matched or not."""
    frame = keys.assign(stratum=stratum, omni=treated, person=person,
                        orders=marks["y_orders"].to_numpy(),
                        revenue=marks["y_revenue"].to_numpy())  # fmt: skip
    first = frame.groupby("stratum")[list(keys.columns)].first()
    by = frame.groupby(["stratum", "omni"])
    grouped = by.agg(
        landmarks=("person", "size"),
        persons=("person", "nunique"),
        orders=("orders", "mean"),
        revenue=("revenue", "mean"),
    ).unstack("omni")
    grouped = grouped.reindex(columns=pd.MultiIndex.from_product(
        [["landmarks", "persons", "orders", "revenue"], [True, False]]))  # fmt: skip
    out = first.assign(
        omni_landmarks=grouped[("landmarks", True)].fillna(0).astype(int),
        single_landmarks=grouped[("landmarks", False)].fillna(0).astype(int),
        single_customers=grouped[("persons", False)].fillna(0).astype(int),
        omni_mean_orders=grouped[("orders", True)],
        single_mean_orders=grouped[("orders", False)],
        omni_mean_revenue=grouped[("revenue", True)],
        single_mean_revenue=grouped[("revenue", False)],
    )
    out["matched"] = (out["omni_landmarks"] > 0) & (out["single_landmarks"] > 0)
    return out.reset_index()


def _row(outcome: str, estimate: str, att: AttEstimate, z: float, omni_total: int,
         days: float) -> dict:  # fmt: skip
    ratio = att.treated_mean / att.control_mean if att.control_mean > 0 else float("nan")
    spread = np.exp(z * att.log_ratio_std_error)
    return {
        "outcome": outcome,
        "estimate": estimate,
        "estimand": ESTIMANDS[estimate].format(window=days),
        "days": days,
        "omni_customers": att.treated_n,
        "single_customers": att.control_persons,
        "single_landmarks": att.control_n,
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
