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

__all__ = ["simulate_event_log", "write_event_log"]

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
