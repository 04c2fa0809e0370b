"""The compiled Monte Carlo kernel: customers walk to the end in machine code, two at a time.

numpy pays a pass over memory for every operation of a step, which caps the
vectorised loop well below 1e8 transitions per second; compiled with numba, a
customer's journey stays in registers. One customer's steps are a chain of
dependent table look-ups, so two customers walk side by side and the processor
overlaps their chains (about 1.5x over one at a time). The statistics are those
of the vectorised loop in ``_mcsim`` (the same tables, the same tallies); only the
random stream differs. Next touchpoints come from the alias tables through an
inline xoshiro256** generator seeded from the caller's ``numpy.random.Generator``
for each piece; delays are drawn from that Generator itself (numba shares its
state) and referral counts from it after the piece, so a seed fixes the whole result.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from journeysim._hash import mix
from journeysim.engines.montecarlo.alias import AliasTable
from journeysim.engines.montecarlo.referred import Referred
from journeysim.engines.montecarlo.tables import EXPONENTIAL, LOGNORMAL, Tables
from journeysim.engines.montecarlo.tallies import PATH_LENGTH, PathCounter, Tally
from journeysim.engines.workload import MAX_DRAWN

__all__ = ["run_piece"]

_U = np.uint64
# A budget no run reaches.
_NO_LIMIT = 2**62
# No reference counting: the kernel allocates nothing (its buffers come in ``_Out``), and
# counting references to the arrays of the tuples handed to the inlined helpers on every
# step would cost more than the step itself.
_jit = numba.njit(cache=True, nogil=True, _nrt=False)
_mix = numba.njit(inline="always")(mix)


@numba.njit(inline="always")
def _xoshiro(s0, s1, s2, s3):
    """xoshiro256** (Blackman and Vigna): one 64-bit output and the next state."""
    r = s1 * _U(5)
    r = ((r << _U(7)) | (r >> _U(57))) * _U(9)
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U(45)) | (s3 >> _U(19))
    return r, s0, s1, s2, s3


# First visits of the first 64 touchpoints are counted in bit planes: plane b holds bit b of 64 counters, one per
# touchpoint, and adding a customer's visited bits is a ripple of ANDs and XORs through the planes, with no branch
# and no look-up per touchpoint. The planes hold counts below 2**_PLANES and are emptied into first_visits first.
_PLANES = 8


#: The chain as the kernel reads it. ``family`` empty: no outcome takes time; ``sfamily`` (per state, the
#: service times) empty: no touchpoint has a service time; ``start``
#: empty: everybody starts at 0; ``special``: 1 for a goal, 2 for a referring state, 4 for
#: a state whose value is discounted (at ``lam``); ``stage_masks``: the stages', then the funnel's.
_Chain = namedtuple("_Chain", "entry_thr entry_pair entry_shift step_thr step_next step_outcome shift width family "
                              "pa pb sfamily spa spb words word bit code mult special stage_masks tp horizon start "
                              "value lam")
#: What the kernel writes. ``late``: customers still travelling at the horizon, and how
#: many of them converted before it. ``paths`` empty: no path record; ``path_counts``
#: empty: no candidate counting (``lookup`` empty: find candidates by binary search).
#: ``loyal``: customers with a second goal visit, and customers who left after their first
#: touchpoint; ``worth``: discounted value; ``goals``: each lane's goal visits so far (up to 2).
_Out = namedtuple("_Out", "visits first_visits stage_reach late hashes converted times paths candidates lookup "
                          "lookup_shift path_counts path_conversions seen refs referrers planes loyal worth goals")


@numba.njit(inline="always")
def _enter(ch, c, s0, s1, s2, s3):
    """Customer ``c``'s first state and start time."""
    r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    slot = np.int64(r >> ch.entry_shift)
    state = ch.entry_pair[2 * slot + np.int64(r >= ch.entry_thr[slot])]
    return state, ch.start[c] if len(ch.start) else 0.0, s0, s1, s2, s3


@numba.njit(inline="always")
def _delay(f, a, b, rng):
    """One draw of a delay of family ``f`` with parameters ``a``, ``b`` (0 for a family's zero member)."""
    if f == EXPONENTIAL:
        return a * rng.standard_exponential() if a != 0.0 else 0.0
    if f == LOGNORMAL:
        return math.exp(a + b * rng.standard_normal()) if b != 0.0 else math.exp(a)
    return b * rng.standard_gamma(a) if b != 0.0 else 0.0


@numba.njit(inline="always")
def _step(ch, out, rng, lane, c, state, clock, begin, seen0, h, converted, k, s0, s1, s2, s3, n_times, n_refs):
    """Visit ``state``, then draw the next state and the delay before it."""
    out.visits[state] += 1
    if ch.words == 1:
        seen0 |= ch.bit[state]
    else:
        w = ch.word[state]
        if w == 0:
            seen0 |= ch.bit[state]
        elif (out.seen[lane, w] & ch.bit[state]) == 0:
            out.seen[lane, w] |= ch.bit[state]
            out.first_visits[ch.tp[state]] += 1
    h = h * ch.mult + ch.code[state]
    if k <= PATH_LENGTH and len(out.paths):
        out.paths[c, k] = ch.tp[state]
    k += 1
    special = ch.special[state]
    if special:
        if special & 1:
            if not converted:
                converted = True
                out.times[n_times] = clock - begin
                n_times += 1
            if out.goals[lane] < 2:
                out.goals[lane] += 1
                if out.goals[lane] == 2:
                    out.loyal[0] += 1
        if special & 4:
            out.worth[0] += ch.value[state] * math.exp(-ch.lam * clock)
        if special & 2:
            # Visits that refer; the caller draws how many they refer.
            if n_refs < len(out.refs):
                out.refs[n_refs] = clock
                out.referrers[n_refs] = state
            n_refs += 1  # past the buffer: counted only, and the caller runs the piece again
    r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    i = state * ch.width + np.int64(r >> ch.shift)
    i = 2 * i + np.int64(r >= ch.step_thr[i])
    late = False
    if len(ch.sfamily):     # the time a server holds the customer, before their own delay
        clock += _delay(ch.sfamily[state], ch.spa[state], ch.spb[state], rng)
    if len(ch.family):
        o = ch.step_outcome[i]
        clock += _delay(ch.family[o], ch.pa[o], ch.pb[o], rng)
    if len(ch.family) or len(ch.sfamily):
        late = clock > ch.horizon
    state = ch.step_next[i]
    done = late or state == len(out.visits) - 1
    return state, clock, seen0, h, converted, k, late, done, s0, s1, s2, s3, n_times, n_refs


@numba.njit
def _empty_planes(out):
    """Add the bit-plane counts to ``first_visits`` and clear the planes."""
    for j in range(min(64, len(out.first_visits))):
        count = 0
        for b in range(_PLANES):
            count += np.int64((out.planes[b] >> _U(j)) & _U(1)) << b
        out.first_visits[j] += count
    out.planes[:] = 0


@numba.njit(inline="always")
def _finish(ch, out, lane, c, seen0, h, converted, late, k):
    """Tally customer ``c``: first visits and stages from the visited bits, outcome, path."""
    if k <= PATH_LENGTH and len(out.paths):
        out.paths[c, k] = -1  # the end of a path short enough to show whole
    carry = seen0
    for b in range(_PLANES):
        both = out.planes[b] & carry
        out.planes[b] ^= carry
        carry = both
    out.planes[_PLANES] += _U(1)   # customers added
    if out.planes[_PLANES] == _U((1 << _PLANES) - 1):
        _empty_planes(out)
    if ch.words == 1:
        for g in range(len(ch.stage_masks)):
            out.stage_reach[g] += (seen0 & ch.stage_masks[g, 0]) != 0
    else:
        out.seen[lane, 0] = seen0
        for g in range(len(ch.stage_masks)):
            for j in range(ch.words):
                if out.seen[lane, j] & ch.stage_masks[g, j]:
                    out.stage_reach[g] += 1
                    break
        for j in range(ch.words):
            out.seen[lane, j] = 0
    if len(out.paths):  # the pilot piece: its paths pick the candidates
        out.hashes[c] = h
        out.converted[c] = converted
    out.goals[lane] = 0
    if late:  # (converted and exited or not are counted from the conversion times)
        out.late[0] += 1
        out.late[1] += converted
    elif k == 1:
        out.loyal[1] += 1
    if len(out.path_counts):
        x = _mix(h)
        if len(out.lookup):
            p = out.lookup[np.int64((x >> out.lookup_shift) & _U(len(out.lookup) - 1))]
        else:
            p = min(np.searchsorted(out.candidates, x), len(out.candidates) - 1)
        if p < len(out.candidates) and out.candidates[p] == x:
            out.path_counts[p] += 1
            out.path_conversions[p] += converted


@numba.njit(inline="always")
def _relay(ch, out, lane, c, after, m, seen0, h, converted, late, k, s0, s1, s2, s3):
    """Tally the customer who finished in ``lane``; start customer ``after`` there, if there is one."""
    _finish(ch, out, lane, c, seen0, h, converted, late, k)
    state, begin = 0, 0.0
    on = after < m
    if on:
        c, after = after, after + 1
        state, begin, s0, s1, s2, s3 = _enter(ch, c, s0, s1, s2, s3)
    return on, c, after, state, begin, s0, s1, s2, s3


@_jit
def _walk(seed, rng, m, ch, out, budget):
    """Walk customers ``0 .. m-1`` to the end (or the horizon), two side by side, into ``out``.

    Returns the number of conversion times written to ``out.times``, of visits to
    referring states (their times and states are in ``out.refs`` and ``out.referrers``
    if those are long enough), and whether the walks stopped at ``budget`` steps.
    """
    s0, s1, s2, s3 = seed[0], seed[1], seed[2], seed[3]
    n_refs = n_times = 0
    # Lane a walks customer ac, lane b customer bc; a lane that finishes takes the next customer.
    ac, bc = 0, 1
    a_on, b_on = m > 0, m > 1
    a_state = b_state = 0
    a_clock = a_begin = b_clock = b_begin = 0.0
    if a_on:
        a_state, a_begin, s0, s1, s2, s3 = _enter(ch, ac, s0, s1, s2, s3)
    if b_on:
        b_state, b_begin, s0, s1, s2, s3 = _enter(ch, bc, s0, s1, s2, s3)
    a_clock, b_clock = a_begin, b_begin
    a_seen = b_seen = a_h = b_h = _U(0)
    a_conv = b_conv = a_late = b_late = a_done = b_done = False
    a_k = b_k = 0
    after = 2
    steps = 0
    while a_on or b_on:
        steps += np.int64(a_on) + np.int64(b_on)
        if steps > budget:
            return n_times, n_refs, True
        if a_on:
            (a_state, a_clock, a_seen, a_h, a_conv, a_k, a_late, a_done, s0, s1, s2, s3, n_times,
             n_refs) = _step(ch, out, rng, 0, ac, a_state, a_clock, a_begin, a_seen, a_h, a_conv, a_k,
                             s0, s1, s2, s3, n_times, n_refs)
        if b_on:
            (b_state, b_clock, b_seen, b_h, b_conv, b_k, b_late, b_done, s0, s1, s2, s3, n_times,
             n_refs) = _step(ch, out, rng, 1, bc, b_state, b_clock, b_begin, b_seen, b_h, b_conv, b_k,
                             s0, s1, s2, s3, n_times, n_refs)
        if a_on and a_done:
            a_on, ac, after, a_state, a_begin, s0, s1, s2, s3 = _relay(ch, out, 0, ac, after, m, a_seen, a_h, a_conv,
                                                                       a_late, a_k, s0, s1, s2, s3)
            a_clock, a_seen, a_h, a_conv, a_k = a_begin, _U(0), _U(0), False, 0
        if b_on and b_done:
            b_on, bc, after, b_state, b_begin, s0, s1, s2, s3 = _relay(ch, out, 1, bc, after, m, b_seen, b_h, b_conv,
                                                                       b_late, b_k, s0, s1, s2, s3)
            b_clock, b_seen, b_h, b_conv, b_k = b_begin, _U(0), _U(0), False, 0
    _empty_planes(out)
    return n_times, n_refs, False


def _chain(t: Tables, horizon: float | None, start: np.ndarray | None, entry: AliasTable) -> _Chain:
    masks = [*t.stage_masks.values(), *t.funnel_masks.values()]
    stages = np.array(masks, dtype=np.uint64).reshape(-1, t.words)
    # A map without delays (or without service times) passes no such tables: the kernel then skips those draws.
    none = (np.zeros(0, np.int8), np.zeros(0), np.zeros(0))
    timed = (t.family, t.param_a, t.param_b) if t.families else none
    served = (t.service_family, t.service_a, t.service_b) if t.service_families else none
    value = t.state_value
    worth = (value != 0) if t.discount is not None else np.zeros(len(value), bool)
    special = (t.goal | ((t.refers > 0) << 1) | (worth << 2)).astype(np.uint8)
    return _Chain(entry.threshold, entry.pair, entry.shift, t.step.threshold, t.step_target.pair, t.step.pair,
                  t.step.shift, t.step.width, *timed, *served, t.words, t.word, t.bit, t.code, t.hash_mult[0], special, stages,
                  t.touchpoint, math.inf if horizon is None else horizon, np.zeros(0) if start is None else start,
                  value, 0.0 if t.discount is None else t.discount)


def _outputs(t: Tables, m: int, paths: PathCounter | None, pilot: bool, room: int) -> _Out:
    """Fresh buffers for a piece: the tallies are added only once the piece has run through."""
    if paths is not None and not pilot:  # the candidates are known: the kernel counts them
        candidates, lookup, shift = paths.kernel_view()
        found = (np.zeros(len(candidates), np.int64), np.zeros(len(candidates), np.int64))
    else:
        candidates, lookup, shift = np.zeros(0, np.uint64), np.zeros(0, np.intp), _U(0)
        found = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return _Out(np.zeros(t.states + 1, np.int64), np.zeros(t.n, np.int64),
                np.zeros(len(t.stage_masks) + len(t.funnel_masks), np.int64),
                np.zeros(2, np.int64), np.empty(m, np.uint64), np.empty(m, bool), np.empty(m),
                np.empty((m if pilot else 0, PATH_LENGTH + 1), np.int32), candidates, lookup, shift, *found,
                np.zeros((2, t.words), np.uint64), np.empty(room), np.empty(room, np.intp),
                np.zeros(_PLANES + 1, np.uint64), np.zeros(2, np.int64), np.zeros(1), np.zeros(2, np.int64))


def run_piece(t: Tables, m: int, rng: np.random.Generator, tally: Tally, horizon: float | None,
              start: np.ndarray | None, paths: PathCounter | None, entry: AliasTable,
              budget: int | None = None) -> Referred | None:
    """Simulate ``m`` customers (entering by ``entry``, at times ``start``, else 0) into ``tally`` and ``paths``.

    Returns the customers they refer; ``None`` (and nothing tallied) when the walks took
    more than ``budget`` steps.
    """
    seed = rng.integers(0, 2**64, size=4, dtype=np.uint64)
    seed[0] |= _U(1)  # xoshiro's state must not be all zero
    pilot = paths is not None and not paths.started
    chain = _chain(t, horizon, start, entry)
    before, room = rng.bit_generator.state, m
    while True:
        out = _outputs(t, m, paths, pilot, room)
        n_times, n_refs, over = _walk(seed, rng, m, chain, out, _NO_LIMIT if budget is None else budget)
        if over:
            return None
        if n_refs <= room:
            break
        # More referring visits than room: the same draws again, with room for all of them.
        rng.bit_generator.state, room = before, n_refs
    tally.customers += m
    tally.visits += out.visits
    tally.transitions += int(out.visits.sum())  # every visit draws one next step
    tally.first_visits += out.first_visits
    # Every converting customer wrote one conversion time.
    late, late_converted = int(out.late[0]), int(out.late[1])
    tally.converted += n_times
    tally.outcomes["converted_and_exited"] += n_times - late_converted
    tally.outcomes["exited"] += m - late - (n_times - late_converted)
    tally.outcomes["travelling"] += late
    tally.travelling_converted += late_converted
    for stage, count in zip(t.stage_masks, out.stage_reach):
        tally.stage_reach[stage] += int(count)
    for stage, count in zip(t.funnel_masks, out.stage_reach[len(t.stage_masks):]):
        tally.funnel[stage] += int(count)
    tally.repeaters += int(out.loyal[0])
    tally.bounced += int(out.loyal[1])
    tally.worth += float(out.worth[0])
    tally.times.add(out.times[:n_times])
    if pilot:
        paths.start(out.hashes, np.arange(m), out.paths)
        paths.add(out.hashes, out.converted)
    elif paths is not None:
        paths.counts += out.path_counts
        paths.conversions += out.path_conversions
    referrers = out.referrers[:n_refs]
    counts = rng.poisson(np.minimum(t.refers.take(referrers), MAX_DRAWN))
    return Referred(out.refs[:n_refs], counts, t.route.take(referrers))
