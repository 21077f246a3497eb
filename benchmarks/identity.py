"""Identity resolution on a large identifier graph: seconds and peak memory.

    python benchmarks/identity.py --links 5000000

Builds an `identities` table of LINKS explicit links (persons with a CRM id, rotating cookies,
devices, a loyalty card for some, a few shared tablets), loads it in one process, then resolves
in a second process so the peak RSS printed is the resolution's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child

SECRET = b"benchmark-secret-0123456789"


def identities(links: int, seed: int = 3) -> pa.Table:
    """Explicit links: cookie/device/loyalty -> customer id, plus shared tablets."""
    rng = np.random.default_rng(seed)
    persons = max(links // 5, 1)
    person = rng.integers(0, persons, links)
    kind = rng.choice(
        np.array(["anonymous_id", "device_id", "loyalty_id"]), links, p=[0.8, 0.15, 0.05]
    )
    serial = np.arange(links)
    value = np.where(kind == "loyalty_id", person, serial)  # one card per person, new cookies
    shared = rng.random(links) < 0.0005  # logins on a few shared store tablets
    value = np.where(shared, rng.integers(0, 50, links), value)
    kind = np.where(shared, "device_id", kind)
    text = lambda prefix, numbers: pc.binary_join_element_wise(  # noqa: E731
        prefix, pc.cast(pa.array(numbers), pa.string()), ""
    )
    return pa.table({
        "identifier_type_a": pa.array(kind),
        "identifier_a": text(pa.array(np.char.add(kind.astype(str), "-")), value),
        "identifier_type_b": pa.array(np.full(links, "customer_id")),
        "identifier_b": text("C", person),
        "link_source": pa.array(np.full(links, "login")),
    })  # fmt: skip


def resolve_only(db: str) -> None:
    import omnimetrics
    from omnimetrics.config import Settings

    wh = omnimetrics.connect(db, settings=Settings(secret=SECRET))
    started = time.perf_counter()
    report = wh.resolve_identities()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "persons": report.persons,
                      "identifiers": report.identifiers, "links": report.links,
                      "iterations": report.iterations, "excluded": report.excluded}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=5_000_000)
    parser.add_argument("--resolve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resolve:
        resolve_only(args.resolve)
        return
    import omnimetrics
    from omnimetrics.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "identities.parquet"
        pq.write_table(identities(args.links), path)
        db = str(Path(tmp) / "identity.duckdb")
        wh = omnimetrics.connect(db, settings=Settings(secret=SECRET))
        loaded = wh.ingest("identities", path)
        wh.close()
        result = in_child(__file__, "--resolve", db)
        print(f"identity  links={loaded.accepted:>11,}  identifiers={result['identifiers']:>11,}  "
              f"persons={result['persons']:>10,}  kept out={result['excluded']}  "
              f"iterations={result['iterations']}  {result['seconds']:6.1f} s  "
              f"peak {result['peak_mb']:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
