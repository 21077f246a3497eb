"""The ways to cut persons: each column of `person_segments` declared once in a registry, with
its vocabulary; and the named groups of the R x F grid (docs/segments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omnimetrics.registry import Registry

AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"),
             (65, "55-64"))  # fmt: skip
"""(upper age bound, exclusive; band); 65 and over is "65+"."""

UNKNOWN = "unknown"
CUSTOMER_TYPES = ("new", "returning", "prospect")
CHANNEL_MIXES = ("omnichannel", "online_only", "store_only", "single_channel", "none")
CONSENT_STATUSES = ("granted", "refused", UNKNOWN)


@dataclass(frozen=True)
class RfmCell:
    """A named group of the R x F grid: recency and frequency score ranges (inclusive)."""

    name: str
    recency: tuple[int, int]
    frequency: tuple[int, int]
    doc: str


RFM_GRID = (
    RfmCell("champions", (5, 5), (4, 5), "bought very recently and buy often"),
    RfmCell("loyal", (3, 4), (4, 5), "buy often, fairly recently"),
    RfmCell("potential_loyalist", (4, 5), (2, 3), "recent buyers with a few orders"),
    RfmCell("new", (5, 5), (1, 1), "bought very recently, once or rarely"),
    RfmCell("promising", (4, 4), (1, 1), "bought recently, once or rarely"),
    RfmCell("need_attention", (3, 3), (3, 3), "average recency and frequency"),
    RfmCell("about_to_sleep", (3, 3), (1, 2), "average recency, low frequency"),
    RfmCell("cannot_lose", (1, 2), (5, 5), "bought most often, but long ago"),
    RfmCell("at_risk", (1, 2), (3, 4), "bought often, but long ago"),
    RfmCell("lost", (1, 1), (1, 1), "oldest last order, lowest frequency"),
    RfmCell("hibernating", (1, 2), (1, 2), "old last order, low frequency"),
)
"""First matching cell wins (so `lost` takes R1 F1 before `hibernating`); every one of the 25
(R, F) pairs is matched. Adapted from the common R x F segment grid (docs/segments.md)."""

PROSPECT = "prospect"
"""`rfm_segment` of a person who never ordered."""


def rfm_segment_of(recency: int, frequency: int) -> str:
    """The RFM group of one (R, F) pair of scores 1-5 (the grid, in Python: docs and tests)."""
    for cell in RFM_GRID:
        if (
            cell.recency[0] <= recency <= cell.recency[1]
            and cell.frequency[0] <= frequency <= cell.frequency[1]
        ):
            return cell.name
    raise ValueError(f"RFM scores must lie in 1..5; got R={recency}, F={frequency}.")


@dataclass(frozen=True)
class Dimension:
    """A column of `person_segments`: a way to cut persons."""

    name: str
    doc: str
    kind: Literal["text", "number"] = "text"
    values: tuple[str, ...] = ()
    """The vocabulary, when known (empty for open text such as city)."""
    closed: bool = True
    """Whether a value outside `values` is an error (CRM age bands may be the company's own)."""


DIMENSIONS = Registry[Dimension]("segment dimension")
"""The columns of `person_segments`, in their order."""

for _dimension in (
    Dimension("age_band", "CRM age band, else derived from the birth year at as_of",
              values=(*(band for _, band in AGE_BANDS), "65+", UNKNOWN), closed=False),
    Dimension("region", "CRM region (latest CRM record)"),
    Dimension("city", "CRM city (latest CRM record)"),
    Dimension("customer_type", "new, returning or prospect (first order vs the period)",
              values=CUSTOMER_TYPES),
    Dimension("recency_days", "Days from the last order to as_of (null: never ordered)", "number"),
    Dimension("frequency", "Orders up to as_of, cancelled ones excluded", "number"),
    Dimension("monetary", "Revenue less refunds of those orders", "number"),
    Dimension("r_score", "Recency quintile among buyers, 5 = most recent", "number"),
    Dimension("f_score", "Frequency quintile among buyers, 5 = most orders", "number"),
    Dimension("m_score", "Monetary quintile among buyers, 5 = most revenue", "number"),
    Dimension("rfm_segment", "Named group of the R x F grid; prospect when never ordered",
              values=(*(c.name for c in RFM_GRID), PROSPECT)),
    Dimension("channel_mix", "omnichannel, online_only, store_only, single_channel or none",
              values=CHANNEL_MIXES),
    Dimension("consent_marketing", "Marketing consent on the CRM record", values=CONSENT_STATUSES),
    Dimension("consent_analytics", "Analytics consent on the CRM record", values=CONSENT_STATUSES),
):  # fmt: skip
    DIMENSIONS.add(_dimension.name, _dimension)
del _dimension
