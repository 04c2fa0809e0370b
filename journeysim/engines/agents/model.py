"""The journey compiled for the agent-based engine: outcome tables, random pools and the calendar.

Everything the simulation loop needs per step is a list lookup: next touchpoints
and delays are drawn from numpy in blocks and handed out one at a time from
Python lists (``pop()``), which costs far less than a numpy call per draw.
The simulation clock counts days; map delays are converted once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from journeysim.engines.branching import customer_types
from journeysim.journey import Delay, Journey
from journeysim.maps.values import UNIT_DAYS

__all__ = ["Model", "Outcome", "Customer", "compile_model", "delay_draws", "timed_touchpoints", "day_rates"]

_FIRST_BLOCK = 256
_LAST_BLOCK = 16384
#: Index of drop-off among a row's outcomes' targets.
EXIT_INDEX = -1


def delay_draws(delay: Delay | None, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` delays in days (``scale`` = days per map time unit)."""
    return np.zeros(n) if delay is None else delay.draw(n, rng=rng) * scale


@dataclass(frozen=True)
class Outcome:
    """One outcome of a row: target index (``EXIT_INDEX`` for drop-off), probability, delay,
    social-proof strength and fatigue factor (``None`` when unused)."""

    target: int
    p: float
    delay: Delay | None
    social_proof: float = 0.0
    fatigue: float | None = None


class Pool:
    """Values drawn from numpy in growing blocks and handed out by ``take()``."""

    __slots__ = ("items", "_draw", "_size")

    def __init__(self, draw):
        self.items: list = []
        self._draw = draw
        self._size = _FIRST_BLOCK

    def refill(self) -> list:
        self.items.extend(self._draw(self._size))
        self._size = min(self._size * 2, _LAST_BLOCK)
        return self.items

    def take(self):
        items = self.items
        if not items:
            items = self.refill()
        return items.pop()


@dataclass
class Model:
    """What the run needs, indexed by touchpoint number (and segment for rows)."""

    names: tuple[str, ...]
    days: int
    scale: float                       # days per map time unit
    rows: list[list[list[Outcome]]]    # [segment][touchpoint] -> outcomes (exit last)
    row_pools: list[list[Pool]]        # [segment][touchpoint] -> (target, delay) pairs
    edge_delays: list[list[list[Pool]]]  # [segment][touchpoint][outcome] -> delays, for dynamic rows
    dynamic: list[list[bool]]          # [segment][touchpoint]: row has social proof
    fatigue: list[list[dict | None]]   # [segment][touchpoint] -> {target: factor}
    stop: list[bool]                   # needs an event when a customer arrives
    goal: list[bool]
    value: list[float]
    refers: list[float]
    stage: list[int]                   # index into stages (the last slot: no stage)
    stages: tuple[str, ...]
    capacity: list[int]
    service: list[Pool | None]         # time a server holds a customer (None: the outcome's delay does)
    patience: list[float]              # 0 = waits forever
    cost: list[float]
    budget: list[tuple[float, float] | None]  # (amount, renewal period in days; inf = once)
    day_rates: np.ndarray              # expected new customers on each day
    kinds: list[tuple[int, int]]       # (segment, entry touchpoint) of a customer: new customers' first
    kind_p: np.ndarray                 # over the first len(kind_p) kinds: how new customers start
    referral_kinds: list[tuple[list[int], np.ndarray]]  # per customer type: its kinds and their probabilities
    refer_type: list[int]              # per touchpoint: the customer type of the customers it refers
    campaigns: dict[int, list[tuple[set[int], int, float]]] = field(default_factory=dict)  # day -> [(reached, to, p)]
    campaign_days: list[list[int]] = field(default_factory=list)  # per touchpoint: days a campaign reaches it
    social: bool = False
    social_step: float = 0.0           # days between updates of the converted share (0: every visit)


def _outcomes(journey: Journey, index: dict[str, int]) -> list[list[Outcome]]:
    rows = []
    for name in journey.names:
        tp = journey.touchpoints[name]
        out = [
            Outcome(index[b], e.p, e.delay if e.delay is not None else tp.delay,
                    float(e.extra.get("social_proof") or 0.0), e.extra.get("fatigue"))
            for b, e in journey.rows.get(name, {}).items()
        ]
        out.append(Outcome(EXIT_INDEX, journey.exit_probability(name), tp.delay))
        rows.append(out)
    return rows


def _row_pool(outcomes: list[Outcome], scale: float, rng: np.random.Generator) -> Pool:
    cum = np.cumsum([o.p for o in outcomes])
    cum /= cum[-1] if cum[-1] > 0 else 1.0
    targets = np.array([o.target for o in outcomes])

    def draw(n: int) -> list:
        k = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(outcomes) - 1)
        delays = np.empty(n)
        for j, o in enumerate(outcomes):
            hit = k == j
            delays[hit] = delay_draws(o.delay, int(hit.sum()), scale, rng)
        return list(zip(targets[k].tolist(), delays.tolist()))

    return Pool(draw)


def _delay_pool(delay: Delay | None, scale: float, rng: np.random.Generator) -> Pool:
    return Pool(lambda n: delay_draws(delay, n, scale, rng).tolist())


def day_rates(arrivals: dict, days: int) -> np.ndarray:
    """Expected new customers on each of ``days`` days, from a map's ``arrivals`` (rate, per, weekday, season)."""
    per_day = arrivals["rate"] / UNIT_DAYS[arrivals.get("per", "day")]
    d = np.arange(days)
    rates = np.full(days, per_day)
    if arrivals.get("weekday"):
        rates *= np.asarray(arrivals["weekday"], dtype=float)[d % 7]
    if arrivals.get("season"):
        rates *= np.asarray(arrivals["season"], dtype=float)[((d % 365) * 12) // 365]
    return rates


def _campaigns(journey: Journey, index: dict[str, int], days: int, model: Model) -> None:
    model.campaign_days = [[] for _ in journey.names]
    for c in journey.extra.get("campaigns", []):
        if "touchpoint" in c:
            reached = {index[c["touchpoint"]]}
        else:
            reached = {i for i, n in enumerate(journey.names) if journey.touchpoints[n].stage == c["stage"]}
        when = [c["day"]] if "day" in c else range(c.get("start", 0), days, c["every"])
        for day in when:
            model.campaigns.setdefault(day, []).append((reached, index[c["to"]], float(c.get("p", 1.0))))
            for i in reached:
                model.campaign_days[i].append(day)
    model.campaign_days = [sorted(set(d)) for d in model.campaign_days]


def compile_model(journey: Journey, days: int, rng: np.random.Generator, *, social_step: float = 0.0) -> Model:
    """Compile a checked journey (see ``check_agent_journey``) for a run of ``days`` days.

    ``social_step`` (days) > 0 lets social proof read the converted share as it was at the start of the
    current step of that length (0: at every visit, each social-proof visit and goal an event).
    """
    names = journey.names
    index = {n: i for i, n in enumerate(names)}
    scale = UNIT_DAYS[journey.time_unit]
    segments = journey.segment_journeys()
    rows = [_outcomes(j, index) for _, _, j in segments]
    dynamic = [[any(o.social_proof for o in row) for row in seg] for seg in rows]
    social = any(any(seg) for seg in dynamic)
    tps = [journey.touchpoints[n] for n in names]
    stages = journey.stage_names()
    budget = []
    for t in tps:
        b = t.extra.get("budget")
        if b is None:
            budget.append(None)
        elif isinstance(b, dict):
            period = np.inf if b.get("per", "run") == "run" else UNIT_DAYS[b["per"]]
            budget.append((float(b["amount"]), period))
        else:
            budget.append((float(b), np.inf))
    capacity = [int(t.extra.get("capacity") or 0) for t in tps]
    kinds, kind_p = [], []
    for s, (_, share, j) in enumerate(segments):
        for name, p in j.entry.items():
            kinds.append((s, index[name]))
            kind_p.append(share * p)
    kind_p = np.asarray(kind_p) / np.sum(kind_p)
    types = customer_types(journey)
    segment_number = {name: s for s, (name, _, _) in enumerate(segments)}
    referral_kinds, mass = [], types.mass
    for starts in types.starts:
        ids, probs = [], []
        for segment, weight, entry in starts:
            for name, p in entry.items():
                if weight * p > 0:
                    kind = (segment_number[segment], index[name])
                    if kind not in kinds:
                        kinds.append(kind)
                    ids.append(kinds.index(kind))
                    probs.append(weight * p)
        probs = np.asarray(probs)
        referral_kinds.append((ids, probs / probs.sum() if probs.size else probs))
    model = Model(
        names=names,
        days=days,
        scale=scale,
        rows=rows,
        row_pools=[[_row_pool(row, scale, rng) for row in seg] for seg in rows],
        edge_delays=[[[_delay_pool(o.delay, scale, rng) for o in row] for row in seg] for seg in rows],
        dynamic=dynamic,
        fatigue=[[{o.target: o.fatigue for o in row if o.fatigue is not None} or None for row in seg] for seg in rows],
        stop=[bool(capacity[i] or budget[i] is not None
                   or (social_step == 0 and (any(seg[i] for seg in dynamic) or (social and t.goal))))
              for i, t in enumerate(tps)],
        goal=[t.goal for t in tps],
        value=[t.value for t in tps],
        refers=[t.refers * mass[r] for t, r in zip(tps, types.route)],
        stage=[stages.index(t.stage) if t.stage is not None else len(stages) for t in tps],
        stages=stages,
        capacity=capacity,
        service=[_delay_pool(t.service, scale, rng) if t.service is not None else None for t in tps],
        patience=[float(t.extra.get("patience") or 0.0) * scale for t in tps],
        cost=[float(t.extra.get("cost") or 0.0) for t in tps],
        budget=budget,
        day_rates=day_rates(dict(journey.extra["arrivals"]), days),
        kinds=kinds,
        kind_p=kind_p,
        referral_kinds=referral_kinds,
        refer_type=list(types.route),
        social=social,
        social_step=social_step if social else 0.0,
    )
    _campaigns(journey, index, days, model)
    return model


def timed_touchpoints(m: Model) -> list[bool]:
    """Per touchpoint: a visit there belongs to its step of the social clock (a social-proof row reads the share,
    a goal changes it); all False when the run has no steps."""
    return [bool(m.social_step) and (any(seg[i] for seg in m.dynamic) or m.goal[i]) for i in range(len(m.names))]


class Customer:
    """One customer in the journey: segment, arrival time, what it has seen so far."""

    __slots__ = ("seg", "start", "seen", "reached", "converted", "counts")

    def __init__(self, seg: int, start: float):
        self.seg = seg
        self.start = start
        self.seen = 0          # bit i: has visited touchpoint i
        self.reached = 0       # bit s: has been in stage s
        self.converted = False
        self.counts = None     # visits per touchpoint, for fatigue rows only
