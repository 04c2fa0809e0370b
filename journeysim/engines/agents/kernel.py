"""The batch walk's steps in machine code: a step of a few hundred customers without a numpy call per operation.

:meth:`~journeysim.engines.agents.batch.BatchWalker.walk` advances customers one
touchpoint visit per step. Written with numpy, a step was some forty array
operations on a few hundred customers, and their call overhead, not the
arithmetic, was most of an agents run with social proof. Here one call walks the
batch to its end: customers who reach a touchpoint that is not plain (a queue,
fatigue, referrals, a campaign, a budget not paid for yet) are set aside, in
order, for :meth:`Run.walk`, and those waiting for a later step of the social
clock for :meth:`Run.defer`; both are handed over when the batch is done, however
few are left walking. Customers walk independently between events, so only the
random stream's order differs from walking each set-aside customer at once.

A step's arithmetic is the numpy steps', in the same order: the same draws from
the run's ``numpy.random.Generator`` (numba shares its state and its algorithms),
numpy's binary search over the outcome table, its pairwise summation for the
revenue and time-to-conversion totals, per-day sums in customer order. On a map
whose touchpoints are all plain a seed gives the numpy steps' result to the last
bit; ``tests/engines/test_agents_kernel.py`` keeps those steps as the reference.
"""

from __future__ import annotations

import numba
import numpy as np

from journeysim.engines.agents.model import EXIT_INDEX

__all__ = ["advance", "DONE", "OVER_BUDGET", "FIXED", "EXPONENTIAL", "LOGNORMAL", "GAMMA"]

#: Return codes: every customer walked or set aside; the run's visit budget is spent.
DONE, OVER_BUDGET = 0, 1
# counters: customers past the end, goal visits, conversions, left converted, left without converting
_STILL, _GOALS, _CONVERTED, _LEFT, _EXITED = range(5)
#: Delay kinds of the outcome table.
FIXED, EXPONENTIAL, LOGNORMAL, GAMMA = range(4)

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _block(a, lo, n):
    """numpy's sum of a block of at most 128 values: eight running sums, combined pairwise."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def _pairwise(a, n):
    """numpy's pairwise summation of ``a[:n]`` (what ``ndarray.sum`` returns, bit for bit).

    numpy halves the range (at a multiple of 8) down to blocks of 128 and adds the halves' sums. The recursion
    is unrolled on a stack of frames: numba cannot load a cached recursive function (it crashes).
    """
    if n <= 128:
        return _block(a, 0, n)
    start, size, acc = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64)
    right = np.zeros(64, np.bool_)         # the frame's left half is summed (in acc), its right half under way
    top, start[0], size[0] = 0, 0, n
    while True:
        if size[top] > 128:                # split: the left half first
            half = size[top] // 2
            half -= half % 8
            start[top + 1], size[top + 1], right[top + 1] = start[top], half, False
            top += 1
            continue
        res = _block(a, start[top], size[top])
        top -= 1
        while top >= 0 and right[top]:     # both halves done: the frame's sum goes up
            res = acc[top] + res
            top -= 1
        if top < 0:
            return res
        half = size[top] // 2
        half -= half % 8
        acc[top], right[top] = res, True
        start[top + 1], size[top + 1], right[top + 1] = start[top] + half, size[top] - half, False
        top += 1


@_jit
def _compact(keep, size, seg, cur, t, who, seen, reached, conv):
    """Keep the customers with ``keep`` true, in order; returns how many."""
    k = 0
    for j in range(size):
        if keep[j]:
            seg[k], cur[k], t[k], who[k] = seg[j], cur[j], t[j], who[j]
            seen[k], reached[k], conv[k] = seen[j], reached[j], conv[j]
            k += 1
    return k


@_jit
def _set_aside(j, into, seg, cur, t, who, seen, reached, conv, start):
    """Append customer ``j`` (its arrival time from ``start``) to the arrays ``into``; ``into[0][0]`` counts them."""
    count, oseg, ocur, ot, ostart, oseen, oreached, oconv = into
    k = count[0]
    oseg[k], ocur[k], ot[k], ostart[k] = seg[j], cur[j], t[j], start[who[j]]
    oseen[k], oreached[k], oconv[k] = seen[j], reached[j], conv[j]
    count[0] = k + 1


@_jit
def advance(rng, size, paid, seg, cur, t, who, seen, reached, conv, start,
            plain, timed, horizon, days,
            cum, target, kind, a, b, last, goal, value, stage, any_goal, n,
            visits, first, reach, goals, revenue, occupancy,
            counts, totals, room, keep, u, o, d, buf, rev_day, waiting, handed):
    """Walk the ``size`` customers in the state arrays to the end of the batch; returns (code, room).

    ``paid``, by customer: the first visit is paid for (walked here although the touchpoint is not plain).
    ``counts`` and ``totals`` (revenue, time to conversion) are added to and the tallies updated in place;
    customers waiting for a later step are appended to ``waiting``, those for :meth:`Run.walk` to ``handed``.
    """
    one = np.int64(1)
    entering = True                        # the first step: paid[] holds
    while size:
        # -- who leaves the batch before the step: past the end, waiting for a step, not plain
        left = 0
        for j in range(size):
            keep[j] = t[j] < days
            if not keep[j]:
                counts[_STILL] += 1
            elif timed[cur[j]] and t[j] >= horizon:
                keep[j] = False
                _set_aside(j, waiting, seg, cur, t, who, seen, reached, conv, start)
            elif not ((entering and paid[who[j]]) or plain[seg[j], cur[j]]):
                keep[j] = False
                _set_aside(j, handed, seg, cur, t, who, seen, reached, conv, start)
            left += not keep[j]
        entering = False
        if left:
            size = _compact(keep, size, seg, cur, t, who, seen, reached, conv)
            if size == 0:
                break
        # -- the step: count the visits, draw where each goes and when
        room -= size
        if room < 0:
            return OVER_BUDGET, room
        for j in range(size):
            i = cur[j]
            visits[i] += 1
            bit = one << i
            if seen[j] & bit == 0:
                first[i] += 1
                seen[j] |= bit
            s = stage[i]
            sbit = one << s
            if reached[j] & sbit == 0:
                reach[s] += 1
                reached[j] |= sbit
        if any_goal:
            g = 0
            for j in range(size):
                if goal[cur[j]]:
                    buf[g] = value[cur[j]]
                    g += 1
            if g:
                counts[_GOALS] += g
                totals[0] += _pairwise(buf, g)
                for j in range(size):
                    if goal[cur[j]]:
                        day = np.int64(t[j])
                        goals[day] += 1
                        rev_day[day] += value[cur[j]]
                for j in range(size):      # each day's sum added once, as numpy adds its per-day bincount
                    if goal[cur[j]]:
                        day = np.int64(t[j])
                        revenue[day] += rev_day[day]
                        rev_day[day] = 0.0
                f = 0
                for j in range(size):
                    if goal[cur[j]] and not conv[j]:
                        buf[f] = t[j] - start[who[j]]
                        f += 1
                counts[_CONVERTED] += f
                totals[1] += _pairwise(buf, f)
                for j in range(size):
                    if goal[cur[j]]:
                        conv[j] = True
        for j in range(size):
            u[j] = rng.random()
        # numpy's searchsorted(side="right") over the whole table, narrowing from the last key as it does
        lo, hi = 0, cum.size
        last_key = 0.0
        for j in range(size):
            row = seg[j] * n + cur[j]
            x = row + u[j]
            if j == 0 or last_key < x:
                hi = cum.size
            else:
                lo = 0
                hi = hi + 1 if hi < cum.size else cum.size
            last_key = x
            while lo < hi:
                mid = lo + ((hi - lo) >> 1)
                if not x < cum[mid]:
                    lo = mid + 1
                else:
                    hi = mid
            o[j] = min(lo, last[row])
            d[j] = a[o[j]]
        for k in (EXPONENTIAL, LOGNORMAL, GAMMA):
            for j in range(size):
                if kind[o[j]] == k:
                    if k == EXPONENTIAL:
                        d[j] = rng.standard_exponential() * a[o[j]]
                    elif k == LOGNORMAL:
                        d[j] = np.exp(a[o[j]] + b[o[j]] * rng.standard_normal())
                    else:
                        d[j] = rng.gamma(a[o[j]]) * b[o[j]]
        for j in range(size):
            leave = t[j] + d[j]
            lo_day = np.int64(t[j]) + 1
            if lo_day <= leave and lo_day <= days:
                s = stage[cur[j]]
                occupancy[s, lo_day] += 1
                occupancy[s, (days if leave >= days else np.int64(leave)) + 1] -= 1
            nxt = target[o[j]]
            keep[j] = nxt != EXIT_INDEX
            if nxt == EXIT_INDEX:
                if leave >= days:
                    counts[_STILL] += 1
                elif conv[j]:
                    counts[_LEFT] += 1
                else:
                    counts[_EXITED] += 1
            cur[j] = nxt
            t[j] = leave
        size = _compact(keep, size, seg, cur, t, who, seen, reached, conv)
    return DONE, room
