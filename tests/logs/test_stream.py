"""The pass in file order (journeysim.logs._stream): a log whose customers' events come in time order is counted
as it is read, with no sort, and fits exactly the map the sorted pass fits; anything else falls back to the sort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from journeysim.engines.eventlog import write_event_log
from journeysim.errors import DataError
from journeysim.fitting.fit import fit_events
from journeysim.logs import _stream as _fitstream
from journeysim.logs import counts as _fitsql
from tests.fitting.fit_summary import fit_summary

IN_ORDER = "one pass over the file in its order"


def _log(n: int, seed: int, users: int = 300) -> pd.DataFrame:
    """Events in time order (ties: whole hours), with values and segments."""
    rng = np.random.default_rng(seed)
    log = pd.DataFrame({"user_id": rng.integers(0, users, n),
                        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 60, n)),
                                                                                    unit="h"),
                        "touchpoint": rng.choice(["ad", "mail", "page", "buy"], n, p=[0.3, 0.2, 0.3, 0.2])})
    log["value"] = np.where(log.touchpoint == "buy", rng.choice([10.0, 25.0], n), 0.0)
    log["segment"] = np.where(log.user_id % 3 == 0, "new", "loyal")
    return log


def _sorted(path, **kwargs):
    """The fit by the sorted pass (the pass in file order switched off)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_fitsql, "count_in_order", lambda *a, **k: None)
        fit = fit_events(path, **kwargs)
    assert not fit.method.startswith(IN_ORDER)
    return fit


def _ids(log: pd.DataFrame, kind: str) -> pd.DataFrame:
    if kind == "text":   # ids of every length around the 8-byte words hashed, differing only at the end
        return log.assign(user_id=lambda f: "kund-ø-" + f.user_id.map(lambda u: "x" * (u % 11) + str(u)))
    return log


@pytest.mark.parametrize("ids", ["integer", "text"])
@pytest.mark.parametrize("repeat, lookback", [(False, None), (True, 5 * 3600), (False, 5 * 3600)])
def test_a_log_in_time_order_is_counted_as_read_and_fits_the_sorted_map(tmp_path, monkeypatch, ids, repeat,
                                                                          lookback):
    path = tmp_path / "events.csv"
    write_event_log(_ids(_log(4000, 1), ids), path)
    fit = fit_events(path, repeat=repeat, lookback=lookback)
    assert fit.method.startswith(IN_ORDER)
    assert fit_summary(fit) == fit_summary(_sorted(path, repeat=repeat, lookback=lookback))
    assert fit.cut > 0 if lookback else fit.cut == 0


def test_tables_that_grow_many_times_give_the_same_counts(tmp_path, monkeypatch):
    path = tmp_path / "events.csv"
    write_event_log(_log(30_000, 2, users=5000), path)
    reference = fit_events(path, lookback=7 * 3600)
    monkeypatch.setattr(_fitstream, "_FIRST_SLOTS", 4)   # grown 4x at a time, from 4 slots to 8192
    monkeypatch.setattr(_fitstream, "_FIRST_GROUPS", 2)
    grown = fit_events(path, lookback=7 * 3600)
    assert grown.method.startswith(IN_ORDER) and fit_summary(grown) == fit_summary(reference)


def test_a_table_past_its_memory_limit_leaves_the_log_to_the_sort(tmp_path, monkeypatch):
    path = tmp_path / "events.csv"
    write_event_log(_log(3000, 3), path)    # 300 customers
    in_order = fit_events(path)
    monkeypatch.setattr(_fitstream, "_FIRST_SLOTS", 16)
    monkeypatch.setattr(_fitstream, "_max_slots", lambda: 256)
    fallback = fit_events(path)
    assert not fallback.method.startswith(IN_ORDER) and fit_summary(fallback) == fit_summary(in_order)


@pytest.mark.parametrize("row", [5, 100_000])
def test_a_customer_out_of_time_order_leaves_the_log_to_the_sort(tmp_path, monkeypatch, row):
    log = _log(120_000, 4)                    # several of the reader's blocks
    later = log.index[(log.user_id == log.user_id[row]) & (log.timestamp > log.timestamp[row])][0]
    log.loc[[row, later]] = log.loc[[later, row]].to_numpy()   # the customer's later event comes first
    path = tmp_path / "events.csv"
    write_event_log(log, path)
    fit = fit_events(path, lookback=9 * 3600)
    assert not fit.method.startswith(IN_ORDER)
    assert fit_summary(fit) == fit_summary(_sorted(path, lookback=9 * 3600))


def test_a_log_of_single_visits_is_refused_by_both_passes(tmp_path):
    path = tmp_path / "events.csv"
    write_event_log(pd.DataFrame({"user_id": [1, 2, 3], "timestamp": pd.to_datetime(["2025-01-01"] * 3),
                                  "touchpoint": ["ad", "ad", "buy"], "value": [0.0, 0.0, 5.0]}), path)
    for fit in (fit_events, _sorted):
        with pytest.raises(DataError, match="no customer moved from one touchpoint to another \\(3 journeys"):
            fit(path)


def _outcome(fit, path, **kwargs):
    """The fit's summary and warnings, or the message of its refusal (a log may hold no transitions, or only goals,
    or no event with a user id)."""
    try:
        result = fit(path, **kwargs)
    except DataError as exc:
        return str(exc)
    return fit_summary(result), result.warnings, result.without_user, result.without_user_row


def _duckdb(path, **kwargs):
    """The fit by DuckDB's own reader (the fast CSV reader switched off)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_fitsql, "csv_events", lambda *a, **k: None)
        return fit_events(path, **kwargs)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20)


@given(users=st.one_of(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=6, unique=True),
                       st.lists(_TEXT.filter(lambda s: s.strip()), min_size=1, max_size=6, unique=True)),
       blanks=st.lists(st.sampled_from(["", " ", "\u00a0", "\u3000 \u2009"]), max_size=2, unique=True),
       data=st.data())
def test_any_log_in_time_order_fits_as_sorted(tmp_path_factory, users, blanks, data):
    """Random customers (integer or text ids), events without a user id, ties, zero gaps, exact lookback
    boundaries, segments: the pass in file order, the sorted pass and DuckDB's reader agree."""
    users = [*map(str, users), *blanks] if blanks else users
    n = data.draw(st.integers(1, 40))
    steps = data.draw(st.lists(st.sampled_from([0, 0, 1, 2, 5]), min_size=n, max_size=n))
    log = pd.DataFrame({"user_id": data.draw(st.lists(st.sampled_from(users), min_size=n, max_size=n)),
                        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.cumsum(steps), unit="h"),
                        "touchpoint": data.draw(st.lists(st.sampled_from(["ad", "页", "buy"]), min_size=n,
                                                         max_size=n))})
    assume("buy" in set(log.touchpoint))
    log["value"] = np.where(log.touchpoint == "buy", 3.0, 0.0)
    if data.draw(st.booleans()):   # segments, which a customer may change between events
        log["segment"] = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    path = tmp_path_factory.mktemp("log") / "events.csv"
    write_event_log(log, path)
    kwargs = dict(goals=["buy"], repeat=data.draw(st.booleans()), lookback=data.draw(st.sampled_from([None, 7200])))
    assert _outcome(fit_events, path, **kwargs) == _outcome(_sorted, path, **kwargs) == \
        _outcome(_duckdb, path, **kwargs)
