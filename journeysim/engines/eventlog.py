"""Event logs simulated from a known map, and writing event logs to CSV or Parquet.

A simulated log is what :func:`journeysim.fitting.fit.fit_events` reads back: one row per
customer per touchpoint visit. It is the ground truth of the fit's round-trip
tests, of ``benchmarks/fit.py`` and of the re-evaluation tests, so the signature of
:func:`simulate_event_log` and its columns are a stable interface.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeysim.errors import UsageError
from journeysim.journey import Delay, Journey
from journeysim.maps.values import UNIT_SECONDS

#: The longest ``span`` of joining days (the log's times must stay far inside int64 microseconds).
MAX_SPAN_DAYS = 36_500

__all__ = ["simulate_event_log", "simulate_seed_totals", "write_event_log"]

_CHUNK = 200_000


def simulate_event_log(
    journey: Journey,
    customers: int,
    *,
    rng: np.random.Generator,
    start: str = "2025-01-01",
    span: float = 365.0,
    max_touches: int = 200,
) -> pd.DataFrame:
    """Simulate the event log that ``customers`` new customers of ``journey`` leave behind.

    Each customer joins at a uniform time within ``span`` days after ``start``, picks a
    segment by share and an entry touchpoint by the segment's entry shares, then walks
    the rows: at each touchpoint they spend its ``service`` time (if it has one) and a
    delay drawn from the edge's (else the touchpoint's) delay distribution, in the map's
    ``time_unit``, and move on or drop off. Queues are not simulated (that is the agents
    engine's work). Referrals are not simulated (every customer is new). A walk stops after
    ``max_touches`` visits so that a map with loops cannot run forever.

    This signature and the columns are a stable interface (used by the fit's
    round-trip tests, ``benchmarks/fit.py`` and the re-evaluation tests).

    Parameters
    ----------
    journey : Journey
    customers : int
        Number of new customers (journeys) to simulate.
    rng : numpy.random.Generator
    start : str
        ISO date or timestamp of the start of the arrival window.
    span : float
        Length of the arrival window, in days.
    max_touches : int
        Cap on visits per customer.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id`` (int64, one customer each), ``timestamp``
        (datetime64[us]), ``touchpoint`` (str), ``value`` (the touchpoint's value at a
        goal, else 0) and, when the map has segments, ``segment``. Rows are sorted by
        timestamp; a customer's visits at the same instant keep their order.

    Examples
    --------
    >>> import numpy as np
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
    ...                       touchpoint_attributes={"buy": {"value": 40.0}})
    >>> log = simulate_event_log(j, 1000, rng=np.random.default_rng(1))
    >>> list(log.columns), len(log), int((log.touchpoint == "buy").sum())
    (['user_id', 'timestamp', 'touchpoint', 'value'], 1486, 486)
    """
    if customers < 0 or span < 0 or max_touches < 1:
        raise UsageError(f"customers={customers}, span={span}, max_touches={max_touches}: need customers >= 0, "
                         "span >= 0 and max_touches >= 1")
    if not span <= MAX_SPAN_DAYS:           # NaN too; times are int64 microseconds (292,000 years at most)
        raise UsageError(f"span={span}: customers join within at most {MAX_SPAN_DAYS:,} days (100 years)")
    unit = UNIT_SECONDS[journey.time_unit]
    names = journey.names
    parts = journey.segment_journeys()
    seg_of = rng.choice(len(parts), size=customers, p=_normalised([s for _, s, _ in parts]))
    users, steps, states, times = [], [], [], []
    for k, (_, _, seg_journey) in enumerate(parts):
        ids = np.flatnonzero(seg_of == k)
        walker = _Walker(seg_journey, names)
        for lo in range(0, len(ids), _CHUNK):
            chunk = ids[lo:lo + _CHUNK]
            arrival = rng.uniform(0.0, span * 86400.0 / unit, size=len(chunk))
            for u, s, x, t in walker.walk(chunk, arrival, rng, max_touches):
                users.append(u), steps.append(s), states.append(x), times.append(t)
    user = np.concatenate(users) if users else np.zeros(0, np.int64)
    step = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    state = np.concatenate(states) if states else np.zeros(0, np.int64)
    micros = np.rint(np.concatenate(times) * unit * 1e6).astype(np.int64) if times else np.zeros(0, np.int64)
    order = np.lexsort((step, user, micros))
    user, state, micros = user[order], state[order], micros[order]
    origin = np.datetime64(pd.Timestamp(start).to_datetime64(), "us")
    value = np.array([journey.touchpoints[n].value if journey.touchpoints[n].goal else 0.0 for n in names])
    columns = {
        "user_id": user.astype(np.int64),
        "timestamp": origin + micros.astype("timedelta64[us]"),
        "touchpoint": pd.Categorical.from_codes(state, categories=list(names)).astype(str),
        "value": value[state],
    }
    if journey.segments:
        seg_names = [name for name, _, _ in parts]
        columns["segment"] = np.asarray(seg_names, dtype=object)[seg_of[user]]
    return pd.DataFrame(columns)


def simulate_seed_totals(journey: Journey, seeds: int, *, rng: np.random.Generator, max_touches: int = 200,
                         max_generations: int = 50) -> pd.DataFrame:
    """Simulate ``seeds`` new customers and every referral generation after them: each seed's totals.

    What an A/B test that credits a customer with the customers they refer (a referral code, say)
    measures per customer. Each customer walks the map as in :func:`simulate_event_log`; each visit
    to a touchpoint that ``refers`` brings a Poisson number of new customers (mean ``refers``), who
    start where its route says (:meth:`Journey.referral_starts`) and walk in turn. The exact
    engine's ``value_per_seed_customer`` and ``conversions_per_seed_customer`` are the means of the
    columns, and :func:`~journeysim.engines.moments.per_customer_moments` their spreads.

    Parameters
    ----------
    journey : Journey
    seeds : int
        New customers (the arm's customers).
    rng : numpy.random.Generator
    max_touches : int
        Cap on visits per customer (as in :func:`simulate_event_log`).
    max_generations : int
        Referral generations at most; a tree still growing after them is refused.

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``converted`` (the seed itself reached a goal), ``value`` and
        ``conversions`` (goal visits) of the seed and all their descendants, ``referred``
        (descendants).

    Raises
    ------
    UsageError
        Bad arguments, or referral trees still growing after ``max_generations``.

    Examples
    --------
    >>> import numpy as np
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
    ...                       touchpoint_attributes={"buy": {"value": 10.0, "refers": 0.4}})
    >>> seeds = simulate_seed_totals(j, 20_000, rng=np.random.default_rng(1))
    >>> se = seeds.value.std() / np.sqrt(len(seeds))   # value_per_seed_customer: 5 / (1 - 0.5 * 0.4) = 6.25
    >>> bool(abs(seeds.value.mean() - 6.25) < 3 * se), int(seeds.referred.sum()) > 0
    (True, True)
    """
    from journeysim.engines.branching import customer_types

    if seeds < 0 or max_touches < 1 or max_generations < 1:
        raise UsageError(f"seeds={seeds}, max_touches={max_touches}, max_generations={max_generations}: need "
                         "seeds >= 0, max_touches >= 1 and max_generations >= 1")
    names = journey.names
    types = customer_types(journey)
    route = np.array(types.route)
    refers = np.array([journey.touchpoints[n].refers for n in names])
    goal = np.array([journey.touchpoints[n].goal for n in names])
    value = np.array([journey.touchpoints[n].value if journey.touchpoints[n].goal else 0.0 for n in names])
    segments = {s: j for s, _, j in journey.segment_journeys()}
    walkers = [[(w, _Walker(segments[s].replace(entry=entry), names)) for s, w, entry in starts if w > 0]
               for starts in types.starts]
    totals = np.zeros((3, seeds))                     # value, conversions, referred
    converted = np.zeros(seeds, dtype=bool)
    wave = [(0, np.arange(seeds))]                    # (type, seed of each customer of this generation)
    for generation in range(max_generations + 1):
        if not any(len(owners) for _, owners in wave):
            break
        if generation == max_generations:
            raise UsageError(f"{journey.name or 'the map'}: referral trees still growing after {max_generations} "
                             "generations (do referrals sustain themselves?)")
        children: dict[int, list[np.ndarray]] = {}
        for kind, owners in wave:
            if generation:
                np.add.at(totals[2], owners, 1.0)
            rows = rng.choice(len(walkers[kind]), size=len(owners),
                              p=_normalised([w for w, _ in walkers[kind]]))
            for r, (_, walker) in enumerate(walkers[kind]):
                mine = owners[rows == r]
                for ids, _, state, _ in walker.walk(np.arange(len(mine)), np.zeros(len(mine)), rng, max_touches):
                    np.add.at(totals[0], mine[ids], value[state])
                    np.add.at(totals[1], mine[ids], goal[state])
                    if generation == 0:
                        converted[mine[ids[goal[state]]]] = True
                    n = rng.poisson(refers[state])
                    for t in np.unique(route[state][n > 0]):
                        take = (n > 0) & (route[state] == t)
                        children.setdefault(int(t), []).append(np.repeat(mine[ids[take]], n[take]))
        wave = [(t, np.concatenate(parts)) for t, parts in children.items()]
    return pd.DataFrame({"converted": converted, "value": totals[0], "conversions": totals[1],
                         "referred": totals[2].astype(np.int64)})


def _normalised(shares: list[float]) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return p / p.sum()


class _Walker:
    """One segment's rows as cumulative tables and delay codes, for vectorised walks."""

    def __init__(self, journey: Journey, names: tuple[str, ...]):
        index = {n: i for i, n in enumerate(names)}
        n = len(names)
        cum = np.zeros((n, n + 1))   # column n is drop-off
        self.delays: list[Delay | None] = [None]
        code = np.zeros((n, n + 1), dtype=np.int64)
        for a in names:
            i = index[a]
            own = self._code(journey.touchpoints[a].delay)
            code[i, :] = own
            for b, edge in journey.rows.get(a, {}).items():
                cum[i, index[b]] = edge.p
                if edge.delay is not None:
                    code[i, index[b]] = self._code(edge.delay)
        cum[:, n] = np.clip(1.0 - cum[:, :n].sum(axis=1), 0.0, 1.0)
        self.cum = np.cumsum(cum, axis=1)
        self.cum[:, n] = np.inf   # rounding never sends anyone past drop-off
        self.code = code
        self.service = np.array([self._code(journey.touchpoints[a].service) for a in names], dtype=np.int64)
        self.entry = np.zeros(n)
        for name, share in journey.entry.items():
            self.entry[index[name]] = share
        self.n = n

    def _code(self, delay: Delay | None) -> int:
        if delay is None or delay.mean == 0:
            return 0
        self.delays.append(delay)
        return len(self.delays) - 1

    def _sample(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.zeros(len(codes))
        for c in np.unique(codes):
            if c == 0:
                continue
            mask = codes == c
            out[mask] = self.delays[c].draw(int(mask.sum()), rng=rng)
        return out

    def walk(self, ids, arrival, rng, max_touches):
        """Yield ``(user, step, touchpoint, time)`` arrays, one visit step at a time."""
        state = rng.choice(self.n, size=len(ids), p=_normalised(list(self.entry)))
        t = arrival
        for step in range(max_touches):
            if len(ids) == 0:
                return
            yield ids, np.full(len(ids), step), state, t
            u = rng.random(len(ids))
            nxt = (self.cum[state] <= u[:, None]).sum(axis=1)
            go = nxt < self.n
            spent = self._sample(self.code[state[go], nxt[go]], rng)
            if self.service.any():
                spent += self._sample(self.service[state[go]], rng)
            ids, state, t = ids[go], nxt[go], t[go] + spent


def write_event_log(log: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write an event log as Parquet (``.parquet``) or CSV (anything else), atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pd.DataFrame({"user_id": [1, 1], "touchpoint": ["ad", "buy"],
    ...                     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"])})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_event_log(log, pathlib.Path(d) / "log.csv")
    ...     print((pathlib.Path(d) / "log.csv").read_text().splitlines()[1])
    1,"ad",2025-01-01 00:00:00.000000
    """
    path = Path(path)
    table = pa.Table.from_pandas(log, preserve_index=False)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if path.suffix.lower() == ".parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
