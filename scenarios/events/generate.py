"""Regenerate the bundled example event logs from scenarios/online-store.yaml (fixed seeds).

    python scenarios/events/generate.py

``online-store-2025.csv``: 15,000 customers of the map as written. ``online-store-2026.csv``:
15,000 customers of the same map with one touchpoint changed: after ``reviews``, customers now
go to ``cart`` with probability 0.4 (was 0.2) and back to ``product page`` with 0.15 (was 0.3).
``online-store-2027.csv``: the drift goes on (``reviews`` to ``cart`` 0.5, to ``product page`` 0.1),
for a re-evaluation over three years.
"""

from pathlib import Path

import numpy as np

from journeysim import Edge, load_journey
from journeysim.engines.eventlog import simulate_event_log, write_event_log

HERE = Path(__file__).resolve().parent
CUSTOMERS = 15_000


def main() -> None:
    store = load_journey(HERE.parent / "online-store.yaml")
    write_event_log(simulate_event_log(store, CUSTOMERS, rng=np.random.default_rng(2025), start="2025-01-01"),
                    HERE / "online-store-2025.csv")
    for year, reviews in ((2026, {"product page": 0.15, "cart": 0.4}), (2027, {"product page": 0.1, "cart": 0.5})):
        changed = store.replace(rows={**store.rows, "reviews": {k: Edge(p) for k, p in reviews.items()}})
        write_event_log(simulate_event_log(changed, CUSTOMERS, rng=np.random.default_rng(year), start=f"{year}-01-01"),
                        HERE / f"online-store-{year}.csv")


if __name__ == "__main__":
    main()
