"""The customer rules of per-customer A/B results, as array operations over all rows at once.

A customer seen in several variants is excluded; one seen on several rows of one variant is
counted once (converted if any row converted, revenue added up, covariate from the first row).
Users and variants arrive as integer codes numbered in order of first appearance, so every
per-customer quantity is a ``bincount`` or a gather, and the arms come out in file order with
their customers in the order they first appear, as a ``groupby(sort=False)`` would give them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CustomerTable", "EXAMPLES", "first_rows", "reduce_customers"]

#: How many excluded rows an analysis reports by line (the rest are only counted).
EXAMPLES = 5


@dataclass(frozen=True)
class CustomerTable:
    """Per-customer results, one entry per kept customer in each variant, in first-appearance order."""

    customers: dict[int, np.ndarray]          # variant code -> customer codes
    converted: np.ndarray                     # per customer code
    revenue: np.ndarray | None
    covariate: np.ndarray | None
    excluded: int                             # customers seen in several variants
    duplicates: int                           # kept customers with several rows
    excluded_rows: np.ndarray                 # the first EXAMPLES row positions dropped with their customer


def first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of each code's first appearance, for codes numbered in order of first appearance.

    Examples
    --------
    >>> first_rows(np.array([0, 1, 0, 2, 1, 3]))
    array([0, 1, 3, 5])
    """
    if not len(codes):
        return np.zeros(0, np.int64)
    seen = np.maximum.accumulate(codes)
    new = np.empty(len(codes), bool)
    new[0] = True
    np.greater(codes[1:], seen[:-1], out=new[1:])
    return np.flatnonzero(new)


def reduce_customers(user: np.ndarray, users: int, variant: np.ndarray, variants: int, converted: np.ndarray,
                     revenue: np.ndarray | None = None, covariate: np.ndarray | None = None) -> CustomerTable:
    """Apply the customer rules to rows given as codes (``user`` < ``users``, ``variant`` < ``variants``).

    Examples
    --------
    >>> t = reduce_customers(np.array([0, 0, 1, 2, 2]), 3, np.array([0, 0, 1, 1, 0]), 2,
    ...                      np.array([False, True, False, True, False]), revenue=np.array([0., 5, 0, 3, 0]))
    >>> {v: c.tolist() for v, c in t.customers.items()}, t.converted.tolist(), t.revenue.tolist()
    ({0: [0], 1: [1]}, [True, False, True], [5.0, 0.0, 3.0])
    >>> t.excluded, t.duplicates, t.excluded_rows.tolist()
    (1, 1, [3, 4])
    """
    first = first_rows(user)
    home = variant[first]                       # the variant of each customer's first row
    mixed = np.zeros(users, bool)
    mixed[user[variant != home[user]]] = True   # rows in another variant than the customer's first one
    rows = np.bincount(user, minlength=users)
    bought = np.zeros(users, bool)
    bought[user[converted]] = True
    kept = ~mixed
    customers = {v: np.flatnonzero(kept & (home == v)) for v in range(variants)}
    excluded_rows = np.zeros(0, np.int64)
    if mixed.any():
        excluded_rows = _first_true(mixed[user], EXAMPLES)
    return CustomerTable(
        customers=customers, converted=bought,
        # several purchases by one customer add up
        revenue=None if revenue is None else np.bincount(user, weights=revenue, minlength=users),
        covariate=None if covariate is None else covariate[first],
        excluded=int(mixed.sum()), duplicates=int((kept & (rows > 1)).sum()), excluded_rows=excluded_rows)


def _first_true(flags: np.ndarray, count: int, block: int = 1 << 20) -> np.ndarray:
    """Positions of the first ``count`` true values (block by block: not a list as long as the file)."""
    found = []
    for start in range(0, len(flags), block):
        found.extend(start + np.flatnonzero(flags[start:start + block])[:count - len(found)])
        if len(found) == count:
            break
    return np.array(found, np.int64)
