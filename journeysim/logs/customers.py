"""Per-customer totals of an event log: how many customers, how many reached a goal, and the value they brought.

An A/B test's unit is the customer, not the journey: these totals give the headline of an arm whose
only record is its event log (``journeysim check --events``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from journeysim.errors import DataError, excerpt
from journeysim.logs.sources import connect, open_source, quote, run_query

__all__ = ["CustomerTotals", "customer_totals", "touchpoint_names"]


@dataclass(frozen=True)
class CustomerTotals:
    """Customers of a log, those who reached a goal, and the sum and sum of squares of each customer's value;
    the events left out for having no user id (they belong to no customer), and the file row of the first."""

    source: str
    customers: int
    converted: int
    value_sum: float | None
    value_sumsq: float | None
    without_user: int = 0
    without_user_row: int | None = None


def customer_totals(path: str | os.PathLike, goals: Sequence[str], *, threads: int | None = None) -> CustomerTotals:
    """Count the customers of an event log and those who visited any of ``goals``.

    Events without a user id (empty, only spaces, or NULL) are no customer's: they are left out and counted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = log.write_text("user_id,timestamp,touchpoint,value\\n1,2025-01-01,ad,0\\n1,2025-01-02,buy,40\\n"
    ...                    "2,2025-01-01,ad,0\\n2,2025-01-03,buy,10\\n2,2025-01-04,buy,10\\n3,2025-01-01,ad,0\\n"
    ...                    ",2025-01-05,buy,99\\n")
    >>> customer_totals(log, ["buy"])  # doctest: +ELLIPSIS
    CustomerTotals(source='...log.csv', customers=3, converted=2, value_sum=60.0, value_sumsq=2000.0, without_user=1, without_user_row=7)
    """
    if not goals:
        raise DataError(f"{path}: name the goal touchpoints (--goal) to count the customers who converted")
    with connect(threads) as con:
        source = open_source(con, path)
        if source.kind != "events":
            raise DataError(f"{path}: a path file has no customers; give the arm's event log")
        marks = ", ".join("?" for _ in goals)
        value = "TRY_CAST(value AS DOUBLE)" if source.has("value") else "0.0"
        # The events without a user id make groups of their own (NULL, '', ' '...), told apart by ``anon``.
        rows = run_query(con, source, f"""
            SELECT count(*) FILTER (WHERE NOT anon), count(*) FILTER (WHERE converted AND NOT anon),
                   sum(v) FILTER (WHERE NOT anon), sum(v * v) FILTER (WHERE NOT anon),
                   coalesce(sum(n) FILTER (WHERE anon), 0), min(first) FILTER (WHERE anon) FROM (
                SELECT {quote("user_id")} AS u, {source.no_user()} AS anon,
                       bool_or(trim({quote("touchpoint")}) IN ({marks})) AS converted,
                       sum(CASE WHEN trim({quote("touchpoint")}) IN ({marks}) THEN coalesce({value}, 0) ELSE 0 END) AS v,
                       count(*) AS n, min(__row) AS first
                FROM {source.relation} GROUP BY u, anon)""", [*goals, *goals])
    customers, converted, value_sum, value_sumsq, anonymous, first = rows[0]
    if not customers:
        if anonymous:
            raise DataError(f"{path}: no customers: every one of the {anonymous:,} events has an empty "
                            f"{excerpt(source.label('user_id'))}")
        raise DataError(f"{path}: no customers (the log has no events)")
    has_value = source.has("value")
    return CustomerTotals(str(path), int(customers), int(converted), float(value_sum) if has_value else None,
                          float(value_sumsq) if has_value else None, int(anonymous),
                          None if first is None else int(first))


def touchpoint_names(path: str | os.PathLike) -> set[str]:
    """The touchpoints of an event log, trimmed as every reader trims them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = log.write_text("user_id,timestamp,touchpoint,value\\n1,2025-01-01, ad ,0\\n1,2025-01-02,buy,40\\n")
    >>> sorted(touchpoint_names(log))
    ['ad', 'buy']
    """
    with connect() as con:
        source = open_source(con, path)
        rows = run_query(con, source, f"SELECT DISTINCT trim({quote('touchpoint')}) FROM {source.relation}")
    return {name for (name,) in rows if name}
