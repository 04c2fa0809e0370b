"""Per-customer totals of an event log: how many customers, how many reached a goal, and the value they brought.

An A/B test's unit is the customer, not the journey: these totals give the headline of an arm whose
only record is its event log (``journeysim check --events``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from journeysim.errors import DataError
from journeysim.logs.sources import connect, open_source, quote, run_query

__all__ = ["CustomerTotals", "customer_totals"]


@dataclass(frozen=True)
class CustomerTotals:
    """Customers of a log, those who reached a goal, and the sum and sum of squares of each customer's value."""

    source: str
    customers: int
    converted: int
    value_sum: float | None
    value_sumsq: float | None


def customer_totals(path: str | os.PathLike, goals: Sequence[str], *, threads: int | None = None) -> CustomerTotals:
    """Count the customers of an event log and those who visited any of ``goals``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = log.write_text("user_id,timestamp,touchpoint,value\\n1,2025-01-01,ad,0\\n1,2025-01-02,buy,40\\n"
    ...                    "2,2025-01-01,ad,0\\n2,2025-01-03,buy,10\\n2,2025-01-04,buy,10\\n3,2025-01-01,ad,0\\n")
    >>> customer_totals(log, ["buy"])  # doctest: +ELLIPSIS
    CustomerTotals(source='...log.csv', customers=3, converted=2, value_sum=60.0, value_sumsq=2000.0)
    """
    if not goals:
        raise DataError(f"{path}: name the goal touchpoints (--goal) to count the customers who converted")
    with connect(threads) as con:
        source = open_source(con, path)
        if source.kind != "events":
            raise DataError(f"{path}: a path file has no customers; give the arm's event log")
        marks = ", ".join("?" for _ in goals)
        value = "TRY_CAST(value AS DOUBLE)" if source.has("value") else "0.0"
        rows = run_query(con, source, f"""
            SELECT count(*), count(*) FILTER (WHERE converted), sum(v), sum(v * v) FROM (
                SELECT {quote("user_id")} AS u, bool_or(trim({quote("touchpoint")}) IN ({marks})) AS converted,
                       sum(CASE WHEN trim({quote("touchpoint")}) IN ({marks}) THEN coalesce({value}, 0) ELSE 0 END) AS v
                FROM {source.relation} GROUP BY u)""", [*goals, *goals])
    customers, converted, value_sum, value_sumsq = rows[0]
    if not customers:
        raise DataError(f"{path}: no customers (the log has no events)")
    has_value = source.has("value")
    return CustomerTotals(str(path), int(customers), int(converted), float(value_sum) if has_value else None,
                          float(value_sumsq) if has_value else None)
