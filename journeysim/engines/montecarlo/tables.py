"""A journey compiled for the Monte Carlo engine: one chain over (segment, touchpoint) states.

Segments become disjoint copies of the touchpoints: state ``s * n + i`` is
touchpoint ``i`` as segment ``s`` sees it, and an entry table draws segment
and entry touchpoint in one go: one table per customer type (new customers, and
the customers of each ``refers`` route; see :mod:`journeysim.engines.branching`).
Every row's outcomes (its edges, then drop-off) are numbered globally so that an
outcome carries its target state and the delay spent before taking it (the
edge's own delay, else the touchpoint's); a state whose touchpoint has a ``service``
time adds a draw of it to every step from it. Drop-off
is a state too: its row leads back to itself without delay, bit, path code or
goal, so finished customers can stay in the arrays for a few steps unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from journeysim.engines.branching import CustomerTypes, customer_types
from journeysim.engines.discount import discount_rate
from journeysim.engines.montecarlo.alias import AliasTable, build_alias
from journeysim.journey import Delay, Journey

__all__ = ["Tables", "build_tables", "EXPONENTIAL", "LOGNORMAL", "GAMMA"]

# Delay families. A fixed delay is a lognormal with sigma 0; no delay is the zero
# member of whichever family the map uses, so most maps sample one family only.
EXPONENTIAL, LOGNORMAL, GAMMA = 0, 1, 2
_ZERO = -1
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15


@dataclass(frozen=True, eq=False)
class Tables:
    """Arrays of the product chain; index ``states`` (== ``exit``) is drop-off, an absorbing row."""

    n: int
    states: int
    step: AliasTable            # draws outcome ids (their delays are needed)
    step_target: AliasTable     # the same tables drawing target states directly
    entries: tuple[AliasTable | None, ...]   # per customer type (0: new customers); None: nowhere to start
    target: np.ndarray          # outcome -> state (``states`` for drop-off)
    family: np.ndarray          # outcome -> delay family
    param_a: np.ndarray         # exponential mean, lognormal mu, gamma shape
    param_b: np.ndarray         # lognormal sigma, gamma scale
    families: tuple[int, ...]   # families present (empty: no delays at all)
    service_family: np.ndarray  # state -> service-time family (its touchpoint's ``service``; drop-off: none)
    service_a: np.ndarray       # as param_a, per state
    service_b: np.ndarray       # as param_b, per state
    service_families: tuple[int, ...]   # service families present (empty: no service times)
    touchpoint: np.ndarray      # state -> touchpoint index (``n`` for drop-off)
    words: int                  # uint64 words of the per-customer visited bitmask
    word: np.ndarray            # state -> word holding its touchpoint's bit
    bit: np.ndarray             # state -> its touchpoint's bit within that word
    code: np.ndarray            # state -> nonzero path-hash code of its touchpoint (0 for drop-off)
    hash_mult: np.ndarray       # state -> path-hash multiplier (1 for drop-off: a finished hash stays put)
    goal: np.ndarray            # state -> bool
    value: np.ndarray           # touchpoint -> value of a visit
    state_value: np.ndarray     # state -> value of a visit (0 for drop-off)
    refers: np.ndarray          # state -> expected referrals per visit (of customers who have somewhere to start)
    route: np.ndarray           # state -> customer type of the customers it refers
    has_refers: bool
    goal_mask: np.ndarray       # (words,) bits of the goal touchpoints
    stage_masks: dict           # stage -> (words,) bits of its touchpoints
    funnel_masks: dict          # stage -> (words,) bits of the touchpoints of this stage or a later one
    discount: float | None      # continuous discount rate per time unit (None: no discount)

    @property
    def exit(self) -> int:
        return self.states

    @property
    def entry(self) -> AliasTable:
        """The new customers' entry table."""
        return self.entries[0]

    @property
    def timed(self) -> bool:
        return bool(self.families or self.service_families)


def _params(delay: Delay | None) -> tuple[int, float, float]:
    if delay is None or delay.mean == 0:
        return _ZERO, 0.0, 0.0
    if delay.dist == "exponential":
        return EXPONENTIAL, delay.mean, 0.0
    if delay.dist == "fixed":
        return LOGNORMAL, math.log(delay.mean), 0.0
    if delay.dist == "lognormal":
        return (LOGNORMAL, *delay.lognormal_params())
    return (GAMMA, *delay.gamma_params())


def _zero_of(family: int) -> tuple[float, float]:
    # Parameters for which the family's sample is exactly 0.
    return {EXPONENTIAL: (0.0, 0.0), LOGNORMAL: (-math.inf, 0.0), GAMMA: (1.0, 0.0)}[family]


def _delay_arrays(params: list[tuple[int, float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """``(family, a, b, families present)``; an item without a delay becomes the zero of the first family present."""
    family = np.array([f for f, _, _ in params], dtype=np.int8)
    a = np.array([x for _, x, _ in params], dtype=float)
    b = np.array([y for _, _, y in params], dtype=float)
    families = tuple(sorted(set(family.tolist()) - {_ZERO}))
    zero = family == _ZERO
    if zero.any() and families:
        family[zero] = families[0]
        a[zero], b[zero] = _zero_of(families[0])
    return family, a, b, families


def _masks(words: int, members) -> np.ndarray:
    mask = np.zeros(words, dtype=np.uint64)
    for i in members:
        mask[i >> 6] |= np.uint64(1 << (i & 63))
    return mask


def build_tables(journey: Journey) -> Tables:
    """Compile ``journey`` (segments included) for sampling.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> t = build_tables(j)
    >>> t.states, t.timed, t.target.tolist()       # ad -> buy, ad -> exit, buy -> exit, exit -> exit
    (2, False, [1, 2, 2, 2])
    """
    names = journey.names
    n = len(names)
    index = {name: i for i, name in enumerate(names)}
    parts = journey.segment_journeys()
    states = len(parts) * n
    targets, params, step_rows = [], [], []
    for s, (_, share, seg) in enumerate(parts):
        for i, name in enumerate(names):
            tp_delay = journey.touchpoints[name].delay
            ids, probs = [], []
            for to, edge in seg.rows.get(name, {}).items():
                ids.append(len(targets))
                probs.append(edge.p)
                targets.append(s * n + index[to])
                params.append(_params(edge.delay if edge.delay is not None else tp_delay))
            ids.append(len(targets))
            probs.append(seg.exit_probability(name))
            targets.append(states)
            params.append(_params(tp_delay))
            step_rows.append((ids, probs))
    step_rows.append(([len(targets)], [1.0]))
    targets.append(states)
    params.append(_params(None))
    family, a, b, families = _delay_arrays(params)
    service = [_params(journey.touchpoints[name].service) for name in names] * len(parts) + [_params(None)]
    service_family, service_a, service_b, service_families = _delay_arrays(service)
    tp = np.concatenate([np.tile(np.arange(n), len(parts)), [n]]).astype(np.intp)
    words = (n + 63) // 64
    word = np.minimum(tp >> 6, words - 1)
    bit = np.left_shift(np.uint64(1), (tp & 63).astype(np.uint64))
    bit[-1] = 0
    code = bit if words == 1 else (tp + 1).astype(np.uint64)
    code[-1] = 0
    hash_mult = np.full(states + 1, _HASH_MULTIPLIER, dtype=np.uint64)
    hash_mult[-1] = 1
    tps = [journey.touchpoints[x] for x in names]
    goal_idx = [i for i, t in enumerate(tps) if t.goal]
    stages = journey.stage_names()
    level = [stages.index(t.stage) if t.stage is not None else -1 for t in tps]
    stage_masks = {stage: _masks(words, [i for i in range(n) if level[i] == k]) for k, stage in enumerate(stages)}
    funnel_masks = {stage: _masks(words, [i for i in range(n) if level[i] >= k]) for k, stage in enumerate(stages)}
    step = build_alias(step_rows)
    target = np.array(targets, dtype=np.intp)
    types = customer_types(journey)
    entries, mass = _entries(types, parts, n, index)
    # Referred customers whose entry share is lost (a removed touchpoint) are never drawn.
    kept = np.array([t.refers * mass[r] for t, r in zip(tps, types.route)])
    refers = np.append(np.tile(kept, len(parts)), 0.0)
    return Tables(
        n=n,
        states=states,
        step=step,
        step_target=dataclasses.replace(step, pair=target.take(step.pair)),
        entries=entries,
        target=target,
        family=family,
        param_a=a,
        param_b=b,
        families=families,
        service_family=service_family,
        service_a=service_a,
        service_b=service_b,
        service_families=service_families,
        touchpoint=tp,
        words=words,
        word=word,
        bit=bit,
        code=code,
        hash_mult=hash_mult,
        goal=np.append(np.tile([t.goal for t in tps], len(parts)), False),
        value=np.array([t.value for t in tps], dtype=float),
        state_value=np.append(np.tile([t.value for t in tps], len(parts)), 0.0),
        refers=refers,
        route=np.append(np.tile(np.array(types.route, dtype=np.intp), len(parts)), 0),
        has_refers=bool((refers > 0).any()),
        goal_mask=_masks(words, goal_idx),
        stage_masks=stage_masks,
        funnel_masks=funnel_masks,
        discount=discount_rate(journey),
    )


def _entries(types: CustomerTypes, parts, n: int, index: dict) -> tuple[tuple[AliasTable | None, ...], list[float]]:
    """One entry table per customer type, and the share of each type's customers who have somewhere to start."""
    segment_number = {name: s for s, (name, _, _) in enumerate(parts)}
    tables, mass = [], []
    for starts in types.starts:
        ids, probs = [], []
        for segment, weight, entry in starts:
            for name, p in entry.items():
                if weight * p > 0:
                    ids.append(segment_number[segment] * n + index[name])
                    probs.append(weight * p)
        total = math.fsum(probs)
        tables.append(build_alias([(ids, probs)]) if total > 0 else None)
        mass.append(total)
    return tuple(tables), mass
