"""Walker alias tables, padded to a power of two and sampled from raw 64-bit draws.

Every row gets the same number of slots ``width`` (a power of two), so one
draw picks its slot with the top ``log2(width)`` bits and compares the other
bits with the slot's integer threshold: two table look-ups per sample whatever
the number of outcomes in a row. Slot ``s`` of row ``r`` keeps its primary
outcome with probability ``k / 2**shift`` and takes its alias otherwise; the
stored threshold is ``s * 2**shift + k``, so the whole raw draw (slot bits
included) is compared with it and no masking pass is needed. Both outcomes sit
side by side in ``pair`` so the choice is one more look-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AliasTable", "build_alias", "draw"]


@dataclass(frozen=True, eq=False)
class AliasTable:
    """Alias tables of several rows over integer outcome ids."""

    width: int
    shift: np.uint64
    threshold: np.ndarray
    pair: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.threshold) // self.width


def _vose(probs: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep-probabilities and alias slots of one row (Vose's construction)."""
    scaled = np.zeros(width)
    total = probs.sum()
    if total > 0:
        scaled[: len(probs)] = probs * (width / total)
    keep = np.ones(width)
    alias = np.arange(width)
    small = [s for s in range(width) if scaled[s] < 1.0]
    large = [s for s in range(width) if scaled[s] >= 1.0]
    while small and large:
        s, big = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], big
        scaled[big] -= 1.0 - scaled[s]
        (small if scaled[big] < 1.0 else large).append(big)
    # What is left is 1 up to rounding: those slots always keep their own outcome.
    return keep, alias


def build_alias(rows: Sequence[tuple[Sequence[int], Sequence[float]]]) -> AliasTable:
    """Build the tables of ``rows``, each ``(outcome ids, probabilities)``.

    Probabilities of a row are normalised to sum to 1; a row must have at least
    one outcome with positive probability.

    Examples
    --------
    >>> t = build_alias([([7, 8], [0.25, 0.75]), ([9], [1.0])])
    >>> t.width, t.rows
    (2, 2)
    >>> out = draw(t, np.zeros(100_000, dtype=np.intp), np.random.default_rng(1))
    >>> round(float(np.mean(out == 7)), 2)
    0.25
    """
    longest = max(len(ids) for ids, _ in rows)
    width = 2
    while width < longest:
        width *= 2
    shift = 64 - (width.bit_length() - 1)
    threshold = np.empty(len(rows) * width, dtype=np.uint64)
    pair = np.empty(2 * len(rows) * width, dtype=np.intp)
    for r, (ids, probs) in enumerate(rows):
        ids = np.asarray(ids, dtype=np.intp)
        keep, alias = _vose(np.asarray(probs, dtype=float), width)
        padded = np.full(width, ids[0], dtype=np.intp)  # padding slots have keep 0: never chosen
        padded[: len(ids)] = ids
        base = r * width
        # keep * 2**shift is exact enough in float64 (53 bits) and at most 2**63.
        # An always-kept slot (k = 1) has itself as alias, so capping the top slot's
        # threshold at 2**64 - 1 leaves the outcome unchanged.
        threshold[base: base + width] = [min((s << shift) + min(int(k * 2.0**shift), 1 << shift), (1 << 64) - 1)
                                         for s, k in enumerate(keep)]
        pair[2 * base: 2 * (base + width): 2] = padded
        pair[2 * base + 1: 2 * (base + width): 2] = padded[alias]
    return AliasTable(width, np.uint64(shift), threshold, pair)


def draw(table: AliasTable, rows: np.ndarray, rng: np.random.Generator, *,
         out: np.ndarray | None = None, work: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """One outcome id for each entry of ``rows`` (row indices, ``intp``).

    ``out`` (``intp``, may be ``rows`` itself) receives the outcomes; ``work`` is
    an ``(intp, uint64, bool)`` triple of scratch arrays of ``len(rows)``, so that
    a step loop allocates nothing but the raw draws.
    """
    n = len(rows)
    base, level, use_alias = work if work is not None else (
        np.empty(n, np.intp), np.empty(n, np.uint64), np.empty(n, bool))
    raw = rng.bit_generator.random_raw(n)
    np.right_shift(raw, table.shift, out=base.view(np.uint64))
    slots = level.view(np.intp)
    np.multiply(rows, table.width, out=slots)
    base += slots
    # Indices are in range by construction: 'clip' skips the bounds check and the
    # buffered copy that take(out=...) makes in the default mode.
    table.threshold.take(base, out=level, mode="clip")
    np.greater_equal(raw, level, out=use_alias)
    base <<= 1
    base += use_alias
    return table.pair.take(base, out=out, mode="clip")
