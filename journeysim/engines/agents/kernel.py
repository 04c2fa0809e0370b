"""The batch walk's steps in machine code: a step of a few hundred customers without a numpy call per operation.

:meth:`~journeysim.engines.agents.batch.BatchWalker.walk` advances customers one
touchpoint visit per step. Written with numpy, a step was some forty array
operations on a few hundred customers, and their call overhead, not the
arithmetic, was most of an agents run with social proof. Here one call walks the
batch to its end: customers who reach a touchpoint that is not plain (a queue,
referrals, a budget not paid for yet) are set aside, in order, for
:meth:`Run.walk`, those at a touchpoint a campaign reaches before they leave it
for the campaign's day, and those waiting for a later step of the social clock
join the run's :class:`~journeysim.engines.agents.batch.Waiting` arrays. Customers
walk independently between events, so only the random stream's order differs from
walking each set-aside customer at once. Fatigue is drawn here as
:meth:`Run._choose` draws it, from each customer's visit counts.

A step's arithmetic is the numpy steps', in the same order: the same draws from
the run's ``numpy.random.Generator`` (numba shares its state and its algorithms),
numpy's binary search over the outcome table, its pairwise summation for the
revenue and time-to-conversion totals, per-day sums in customer order. On a map
whose touchpoints are all plain (and without fatigue or campaigns, which the numpy
steps left to Python) a seed gives the numpy steps' result to the last bit;
``tests/engines/test_agents_kernel.py`` keeps those steps as the reference.
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
def _compact(keep, size, seg, cur, t, who, seen, reached, conv, cnt):
    """Keep the customers with ``keep`` true, in order; returns how many."""
    k = 0
    for j in range(size):
        if keep[j]:
            seg[k], cur[k], t[k], who[k] = seg[j], cur[j], t[j], who[j]
            seen[k], reached[k], conv[k] = seen[j], reached[j], conv[j]
            for c in range(cnt.shape[1]):
                cnt[k, c] = cnt[j, c]
            k += 1
    return k


@_jit
def _set_aside(j, into, seg, cur, t, who, seen, reached, conv, cnt, start):
    """Append customer ``j`` (its arrival time from ``start``) to the arrays ``into``; ``into[0][0]`` counts them.
    Returns its row there."""
    count, oseg, ocur, ot, ostart, oseen, oreached, oconv, ocnt = into[:9]
    k = count[0]
    oseg[k], ocur[k], ot[k], ostart[k] = seg[j], cur[j], t[j], start[who[j]]
    oseen[k], oreached[k], oconv[k] = seen[j], reached[j], conv[j]
    for c in range(cnt.shape[1]):
        ocnt[k, c] = cnt[j, c]
    count[0] = k + 1
    return k


@_jit
def _bisect_right(a, lo, hi, x):
    """Where ``x`` goes in the sorted ``a[lo:hi]``, after equal values (``bisect.bisect_right``)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@_jit
def read_share(cum, at, row, off, p, strength, share, ps):
    """Social-proof rows of the outcome table ``cum`` at this converted ``share``: row ``r``'s outcomes (from
    ``cum[at[r]]``) have base probabilities and strengths ``p`` and ``strength[off[r]:off[r + 1]]``, drawn with
    ``p (1 + strength * share)``, scaled to 1 if above (numpy's sums: the numpy code's table to the bit)."""
    for r in range(at.size):
        k = off[r + 1] - off[r]
        for q in range(k):
            ps[q] = p[off[r] + q] * (1.0 + strength[off[r] + q] * share)
        scale = max(_pairwise(ps, k), 1.0)
        acc = 0.0
        for q in range(k):
            acc += ps[q]
            cum[at[r] + q] = row[r] + acc / scale


@_jit
def spend(left, cost, visits):
    """How many of ``visits`` a purse holding ``left`` pays for at ``cost`` each, and what it then holds: paid one
    at a time while ``left + 1e-9 >= cost``, as :meth:`Run._gate` pays them, with the same rounding."""
    paid = 0
    while paid < visits and left + 1e-9 >= cost:
        left -= cost
        paid += 1
    return paid, left


@_jit
def take(k, pool):
    """The customers of ``pool`` (:class:`~journeysim.engines.agents.batch.Waiting`'s arrays) waiting for step
    ``k``, in the order they were set aside, as new arrays (segment, touchpoint, time, arrival time, seen, reached,
    converted, fatigue counts); the others stay, in order."""
    count, seg, cur, t, start, seen, reached, conv, cnt, step, by_step, _ = pool
    size = by_step[k]
    nf = cnt.shape[1]
    oseg, ocur, ot, ostart = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size), np.empty(size)
    oseen, oreached, oconv = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.bool_)
    ocnt = np.empty((size, nf), np.int32)
    r = w = 0
    for j in range(count[0]):
        if step[j] == k:
            oseg[r], ocur[r], ot[r], ostart[r] = seg[j], cur[j], t[j], start[j]
            oseen[r], oreached[r], oconv[r] = seen[j], reached[j], conv[j]
            for c in range(nf):
                ocnt[r, c] = cnt[j, c]
            r += 1
        else:
            seg[w], cur[w], t[w], start[w], step[w] = seg[j], cur[j], t[j], start[j], step[j]
            seen[w], reached[w], conv[w] = seen[j], reached[j], conv[j]
            for c in range(nf):
                cnt[w, c] = cnt[j, c]
            w += 1
    count[0] = w
    by_step[k] = 0
    return oseg, ocur, ot, ostart, oseen, oreached, oconv, ocnt


@_jit
def advance(rng, size, paid, seg, cur, t, who, seen, reached, conv, cnt, start,
            plain, timed, horizon, bounds, days,
            cum, target, kind, a, b, last, goal, value, stage, any_goal, n,
            fcol, ffac, marks, mark_at,
            visits, first, reach, goals, revenue, occupancy,
            counts, totals, room, keep, u, o, d, buf, rev_day, waiting, handed, parked):
    """Walk the ``size`` customers in the state arrays to the end of the batch; returns (code, room).

    ``paid``, by customer: the first visit is paid for (walked here although the touchpoint is not plain).
    ``counts`` and ``totals`` (revenue, time to conversion) are added to and the tallies updated in place;
    customers waiting for a later step are appended to ``waiting`` (a :class:`~.batch.Waiting`'s arrays: with
    their step, the step of the social clock ``bounds`` their time falls in), those for :meth:`Run.walk` to ``handed``,
    and those at a touchpoint a campaign reaches before they leave it to ``parked``, with where they would go,
    the campaign's day, and when they would leave (its last three arrays). The three have the same layout, so that
    the functions they go through compile once.

    Fatigue, as :meth:`Run._choose` applies it: ``cnt[j, fcol[row]]`` counts customer ``j``'s visits to a row
    with fatigue (``fcol`` -1: none), and an outcome with a factor ``ffac >= 0`` drawn on the k-th visit turns
    into the row's drop-off with probability ``1 - ffac ** (k - 1)``.
    """
    one = np.int64(1)
    fatigue = cnt.shape[1] > 0
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
                r = _set_aside(j, waiting, seg, cur, t, who, seen, reached, conv, cnt, start)
                k = _bisect_right(bounds, 0, bounds.size, t[j]) - 1    # its step: Run.step_of
                waiting[9][r] = k
                waiting[10][k] += 1
            elif not ((entering and paid[who[j]]) or plain[seg[j], cur[j]]):
                keep[j] = False
                _set_aside(j, handed, seg, cur, t, who, seen, reached, conv, cnt, start)
            left += not keep[j]
        entering = False
        if left:
            size = _compact(keep, size, seg, cur, t, who, seen, reached, conv, cnt)
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
            col = fcol[seg[j] * n + i]
            if col >= 0:
                cnt[j, col] += 1
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
        if fatigue:
            for j in range(size):
                row = seg[j] * n + cur[j]
                col = fcol[row]
                if col >= 0 and ffac[o[j]] >= 0.0:
                    repeats = cnt[j, col] - 1
                    if repeats > 0 and rng.random() >= ffac[o[j]] ** repeats:
                        o[j] = last[row]
        for j in range(size):
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
            nxt = target[o[j]]
            i = cur[j]
            if mark_at[i] < mark_at[i + 1]:
                k = _bisect_right(marks, mark_at[i], mark_at[i + 1], t[j])   # the next campaign day
                if k < mark_at[i + 1] and marks[k] < leave:
                    # at i until the campaign's day, which decides: Run._park (counted there until then)
                    day = marks[k]
                    lo_day = np.int64(t[j]) + 1
                    if lo_day <= day and lo_day <= days:
                        occupancy[stage[i], lo_day] += 1
                        occupancy[stage[i], (days if day >= days else np.int64(day)) + 1] -= 1
                    r = _set_aside(j, parked, seg, cur, t, who, seen, reached, conv, cnt, start)
                    parked[9][r], parked[10][r], parked[11][r] = nxt, np.int64(day), leave
                    keep[j] = False
                    continue
            lo_day = np.int64(t[j]) + 1
            if lo_day <= leave and lo_day <= days:
                s = stage[i]
                occupancy[s, lo_day] += 1
                occupancy[s, (days if leave >= days else np.int64(leave)) + 1] -= 1
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
        size = _compact(keep, size, seg, cur, t, who, seen, reached, conv, cnt)
    return DONE, room
