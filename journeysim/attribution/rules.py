"""Rule-based attribution models and Shapley values over a :class:`PathTable`.

Each model splits every converting path's conversions (and value) among its
touches with weights that sum to 1, and adds the credit up per touchpoint:

* ``first`` / ``last``: all to the first / last touch;
* ``linear``: equally to every touch;
* ``position`` (U-shaped): 40 % to the first, 40 % to the last, 20 % shared by the
  touches between (one touch takes all; two take half each);
* ``time-decay``: a touch ``k`` steps before the conversion weighs ``2 ** (-k / h)``
  (``h`` the half-life in touches, default 1), normalised within the path.

``shapley`` is the count-based Shapley value of Zhao et al. (2018, "Shapley Value Methods
for Attribution Modeling in Online Advertising"): the touchpoints are players of a game
whose worth ``v(S)`` is the number of conversions of the journeys that used only
touchpoints in ``S``. That game is a sum of unanimity games, one per set of touchpoints
``T`` with the conversions ``r_T`` of the journeys whose touchpoints are exactly ``T``, so
the Shapley value of a touchpoint is ``sum over T containing it of r_T / |T|``: every
converting journey's conversions (and value) split equally among its distinct
touchpoints. Credits are never negative and add up to the observed conversions.

``shapley-rate`` is the earlier rate-based variant: the worth ``v(S)`` is the conversion
*rate* of the journeys that used only touchpoints in ``S``, a touchpoint's value times
the number of journeys its attributed conversions. It rewards touchpoints whose journeys
convert better than journeys without them, and gives a negative share to a touchpoint
whose journeys convert worse (exact over all ``2**n`` coalitions, up to 15 touchpoints).
"""

from __future__ import annotations

from math import factorial

import numpy as np

from journeysim.errors import DataError
from journeysim.logs.paths import PathTable

__all__ = ["RULE_MODELS", "rule_credit", "shapley_credit", "shapley_rate_credit", "SHAPLEY_LIMIT"]

RULE_MODELS = ("first", "last", "linear", "time-decay", "position")
#: Rate-based Shapley values are exact (all 2**n coalitions) up to this many touchpoints.
SHAPLEY_LIMIT = 15


def _weights(table: PathTable, model: str, half_life: float) -> np.ndarray:
    lengths = table.lengths
    n = np.repeat(lengths, lengths).astype(float)
    pos = np.arange(len(table.touches)) - np.repeat(table.offsets[:-1], lengths)
    first, last = pos == 0, pos == n - 1
    if model == "first":
        return first.astype(float)
    if model == "last":
        return last.astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "position":
        middle = np.where(n > 2, 0.2 / np.maximum(n - 2, 1), 0.0)
        ends = np.where(n == 1, 1.0, np.where(n == 2, 0.5, 0.4))
        return np.where(first | last, ends, middle)
    raw = 2.0 ** (-(n - 1 - pos) / half_life)
    totals = np.bincount(table.path_of_touch, weights=raw, minlength=len(lengths))
    return raw / totals[table.path_of_touch]


def rule_credit(table: PathTable, model: str, half_life: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Attributed ``(conversions, value)`` per channel of ``table`` under a rule-based model.

    Examples
    --------
    >>> t = PathTable.from_paths([["a", "b", "c"], ["b"]], [10, 2], [0, 5], [100, 20])
    >>> rule_credit(t, "position")[0].tolist()   # a: 0.4*10, b: 0.2*10 + 2, c: 0.4*10
    [4.0, 4.0, 4.0]
    >>> rule_credit(t, "time-decay")[0].round(4).tolist()   # weights 1/7, 2/7, 4/7
    [1.4286, 4.8571, 5.7143]
    """
    w = _weights(table, model, half_life)
    path = table.path_of_touch
    k = len(table.channels)
    conv = np.bincount(table.touches, weights=w * table.conversions[path], minlength=k)
    value = np.bincount(table.touches, weights=w * table.value[path], minlength=k)
    return conv, value


def _subset_sums(x: np.ndarray, n: int) -> np.ndarray:
    """``out[S] = sum of x[T] over T a subset of S`` (the zeta transform), for bitmask indices."""
    out = x.astype(float).copy()
    for i in range(n):
        view = out.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return out


def shapley_credit(table: PathTable) -> tuple[np.ndarray, np.ndarray]:
    """Attributed ``(conversions, value)`` per channel: the count-based Shapley value of Zhao et al. (2018).

    Each converting path's conversions and value are split equally among its distinct touchpoints (the
    Shapley value of the game ``v(S)`` = conversions of the journeys whose touchpoints all lie in ``S``).

    Examples
    --------
    Paths a > b > a (10 conversions) and b (2): a and b share the first path's 10 equally; b keeps its 2.

    >>> t = PathTable.from_paths([["a", "b", "a"], ["b"]], [10, 2], [5, 5], [100, 20])
    >>> [x.tolist() for x in shapley_credit(t)]
    [[5.0, 7.0], [50.0, 70.0]]
    """
    path, k = table.path_of_touch, len(table.channels)
    # each touchpoint counts once per path, at its first touch
    _, first = np.unique(path.astype(np.int64) * max(k, 1) + table.touches, return_index=True)
    on = path[first]
    weight = 1.0 / np.bincount(on, minlength=len(table.lengths))[on]
    conv = np.bincount(table.touches[first], weights=weight * table.conversions[on], minlength=k)
    value = np.bincount(table.touches[first], weights=weight * table.value[on], minlength=k)
    return conv, value


def shapley_rate_credit(table: PathTable) -> tuple[np.ndarray, np.ndarray]:
    """Attributed ``(conversions, value)`` per channel from exact rate-based Shapley values.

    Examples
    --------
    Two channels: journeys on {a} convert at 0.1, on {b} at 0.3, on {a, b} at 0.5.

    >>> t = PathTable.from_paths([["a"], ["b"], ["a", "b"]], [10, 30, 50], [90, 70, 50])
    >>> conv, _ = shapley_rate_credit(t)
    >>> conv.round(6).tolist()   # v(a)=0.1, v(b)=0.3, v(ab)=0.3: a gets (0.1 + 0)/2 * 300
    [15.0, 75.0]
    """
    n = len(table.channels)
    if n > SHAPLEY_LIMIT:
        raise DataError(f"shapley-rate: {n} touchpoints (exact rate-based Shapley values are computed for at most "
                        f"{SHAPLEY_LIMIT}; the count-based 'shapley' has no limit)")
    bits = np.left_shift(1, table.touches).astype(np.int64)
    masks = np.bitwise_or.reduceat(bits, table.offsets[:-1])
    size = 1 << n
    journeys = _subset_sums(np.bincount(masks, weights=table.conversions + table.nulls, minlength=size), n)
    conv = _subset_sums(np.bincount(masks, weights=table.conversions, minlength=size), n)
    value = _subset_sums(np.bincount(masks, weights=table.value, minlength=size), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        v_conv = np.where(journeys > 0, conv / journeys, 0.0)
        v_value = np.where(journeys > 0, value / journeys, 0.0)
    all_masks = np.arange(size)
    popcount = _popcount(all_masks)
    weight = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    total = table.journeys
    out_conv, out_value = np.zeros(n), np.zeros(n)
    for i in range(n):
        without = all_masks[(all_masks >> i) & 1 == 0]
        w = weight[popcount[without]]
        out_conv[i] = total * np.sum(w * (v_conv[without | (1 << i)] - v_conv[without]))
        out_value[i] = total * np.sum(w * (v_value[without | (1 << i)] - v_value[without]))
    return out_conv, out_value


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.astype(">u4").view(np.uint8).reshape(-1, 4), axis=1).sum(axis=1)
