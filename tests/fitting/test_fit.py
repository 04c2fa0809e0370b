"""Fitting journeys from event logs and path files: round trips, hand-made logs, delays, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from statsmodels.stats.proportion import proportion_confint

from journeysim import Edge, Journey, load_journey
from journeysim.engines.eventlog import simulate_event_log, write_event_log
from journeysim.fitting.fit import fit_events
from tests.properties.strategies import journeys


def _write(tmp_path, rows, name="log.csv"):
    path = tmp_path / name
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "touchpoint", "value"][: len(rows[0])])
    frame.to_csv(path, index=False)
    return path


def _misses(truth: Journey, fitted: Journey, alpha: float):
    """Edges whose true probability lies outside the fit's simultaneous (Bonferroni) interval."""
    checks = []
    for a in fitted.rows:
        n = fitted.observations[a]
        true_row = {b: e.p for b, e in truth.rows.get(a, {}).items()}
        assert set(fitted.rows[a]) <= set(true_row), f"{a}: fitted an edge the map does not have"
        true_row["exit"] = truth.exit_probability(a)
        fit_row = {b: e.p for b, e in fitted.rows[a].items()}
        fit_row["exit"] = fitted.exit_probability(a)
        checks += [(a, b, p, fit_row.get(b, 0.0), n) for b, p in true_row.items()]
    level = alpha / max(len(checks), 1)
    out = []
    for a, b, p, p_hat, n in checks:
        lo, hi = proportion_confint(round(p_hat * n), n, alpha=level, method="wilson")
        if not lo - 1e-12 <= p <= hi + 1e-12:
            out.append((a, b, p, p_hat, n))
    return out, len(checks)


@settings(max_examples=12, deadline=None)
@given(journeys(max_touchpoints=6, with_delays=True, trimmed_names=True))
def test_round_trip_recovers_every_probability_within_its_99_99_percent_interval(tmp_path_factory, truth):
    path = tmp_path_factory.mktemp("rt") / "log.csv"
    write_event_log(simulate_event_log(truth, 3000, rng=np.random.default_rng(7), max_touches=2000), path)
    fit = fit_events(path, goals=truth.goals, repeat=True)
    # Family-wise 1e-4: hypothesis searches maps for a failure, and at 1% a sample's own fluke (seed 7 drew 146
    # exits in 836 where 104.5 were expected, z = 4.3) was found in random runs; the power check below still holds.
    misses, checked = _misses(truth, fit.journey, alpha=1e-4)
    assert checked > 0
    assert not misses
    for a in truth.names:   # every touchpoint customers reached has a fitted row (repeat: goals too)
        assert (a in fit.journey.observations) == (a in fit.journey.touchpoints)
    # Power: the same check flags a map whose busiest row is off by 0.1.
    busiest = max(fit.journey.rows, key=lambda a: fit.journey.observations[a])
    edge = max(truth.rows.get(busiest, {}), key=lambda b: truth.rows[busiest][b].p, default=None)
    if fit.journey.observations[busiest] >= 1000 and edge is not None and truth.rows[busiest][edge].p >= 0.1:
        rows = {**truth.rows, busiest: {**truth.rows[busiest], edge: Edge(truth.rows[busiest][edge].p - 0.1)}}
        assert _misses(truth.replace(rows=rows), fit.journey, alpha=1e-4)[0]
    assert fit.journey.observations["entry"] == 3000
    assert set(fit.journey.goals) == set(truth.goals)


def test_round_trip_of_the_online_store_with_segments_delays_and_values(tmp_path):
    truth = load_journey("scenarios/online-store.yaml")
    path = tmp_path / "log.parquet"
    write_event_log(simulate_event_log(truth, 40000, rng=np.random.default_rng(11)), path)
    fit = fit_events(path, goals=["purchase"], repeat=True)
    j = fit.journey
    for name, _, seg_truth in truth.segment_journeys():
        seg_fit = j.for_segment(name)
        n = seg_fit.observations["cart"] * j.segments[name].share   # approximate departures of this segment
        p_hat = seg_fit.rows["cart"]["purchase"].p
        p = seg_truth.rows["cart"]["purchase"].p
        assert abs(p_hat - p) < 4 * np.sqrt(p * (1 - p) / n)
    assert j.segments["regulars"].share == pytest.approx(0.7, abs=4 * np.sqrt(0.21 / 40000))
    assert j.touchpoints["purchase"].value == 40.0
    assert fit.delays["cart"].dist == "fixed" and j.touchpoints["cart"].delay.mean == pytest.approx(0.05, rel=1e-6)
    assert fit.delays["product page"].dist == "lognormal"
    assert fit.delays["reviews"].dist == "gamma"
    assert fit.delays["purchase"].dist == "none"
    assert j.touchpoints["product page"].delay.mean == pytest.approx(0.2, rel=0.05)
    assert j.entry["search ad"] == pytest.approx(0.6, abs=4 * np.sqrt(0.24 / 40000))


def test_goal_ends_a_journey_unless_repeat(tmp_path):
    rows = [(1, "2025-01-01 10:00", "ad", 0), (1, "2025-01-01 11:00", "buy", 30), (1, "2025-01-02 09:00", "mail", 0),
            (2, "2025-01-01 10:00", "ad", 0), (2, "2025-01-03 10:00", "ad", 0)]
    path = _write(tmp_path, rows)
    fit = fit_events(path)                       # the goal is the touchpoint with a value
    j = fit.journey
    assert fit.goals == ("buy",) and fit.journeys == 3
    assert dict(j.entry) == pytest.approx({"ad": 2 / 3, "mail": 1 / 3})
    assert "buy" not in j.rows and j.touchpoints["buy"].value == 30.0
    assert {b: e.p for b, e in j.rows["ad"].items()} == pytest.approx({"buy": 1 / 3, "ad": 1 / 3})
    assert dict(j.observations) == {"entry": 3.0, "ad": 3.0, "mail": 1.0}
    repeat = fit_events(path, repeat=True).journey
    assert repeat.rows["buy"]["mail"].p == 1.0 and repeat.observations["entry"] == 2.0


def test_lookback_cuts_journeys_and_counts_them(tmp_path):
    rows = [(1, "2025-01-01", "ad", 0), (1, "2025-03-01", "page", 0), (1, "2025-03-02", "buy", 5),
            (2, "2025-01-01", "ad", 0), (2, "2025-01-05", "page", 0)]
    path = _write(tmp_path, rows)
    fit = fit_events(path, lookback=30 * 86400)
    assert fit.cut == 1 and fit.journeys == 3
    assert dict(fit.journey.entry) == pytest.approx({"ad": 2 / 3, "page": 1 / 3})
    assert fit.journey.rows["ad"]["page"].p == 0.5
    whole = fit_events(path)
    assert whole.cut == 0 and whole.journeys == 2 and whole.journey.rows["ad"]["page"].p == 1.0


def test_path_file_fit_is_the_first_order_chain(tmp_path):
    path = tmp_path / "paths.csv"
    path.write_text("path,total_conversions,total_null,total_conversion_value\n"
                    "a > b,3,1,300\nb,1,3,100\na > a,0,2,0\n", encoding="utf-8")
    fit = fit_events(path)
    j = fit.journey
    assert fit.kind == "paths" and j.goals == ("conversion",)
    assert dict(j.entry) == pytest.approx({"a": 0.6, "b": 0.4})
    assert {b: e.p for b, e in j.rows["a"].items()} == pytest.approx({"b": 4 / 8, "a": 2 / 8})   # a>a ends at a
    assert j.rows["b"]["conversion"].p == pytest.approx(0.5)
    assert j.touchpoints["conversion"].value == 100.0
    assert dict(j.observations) == {"entry": 10.0, "a": 8.0, "b": 8.0}


def test_stages_file_sets_stages_in_order_and_warns_about_unknown_touchpoints(tmp_path):
    path = _write(tmp_path, [(1, "2025-01-01", "ad", 0), (1, "2025-01-02", "buy", 9)])
    stages = tmp_path / "stages.yaml"
    stages.write_text("buy: purchase\nad: awareness\nghost: awareness\n", encoding="utf-8")
    fit = fit_events(path, stages=stages)
    assert fit.journey.stages == ("purchase", "awareness")
    assert fit.journey.touchpoints["ad"].stage == "awareness"
    assert fit.journey.names == ("buy", "ad")
    assert any("ghost" in w for w in fit.warnings)


def test_unicode_names_and_segments_survive(tmp_path):
    rows = [(1, "2025-01-01", "výklad, obchodu", 0), (1, "2025-01-02", "nákup \"ihneď\"", 10)]
    path = tmp_path / "log.csv"
    pd.DataFrame(rows, columns=["user_id", "timestamp", "touchpoint", "value"]).assign(segment="stáli").to_csv(
        path, index=False)
    j = fit_events(path).journey
    assert j.rows["výklad, obchodu"]["nákup \"ihneď\""].p == 1.0
    assert list(j.segments) == ["stáli"] and j.segments["stáli"].share == 1.0


def test_simulated_log_is_reproducible_sorted_and_capped():
    loop = Journey.from_rows({"a": 1.0}, {"a": {"a": 0.999}}, goals=["a"],
                             touchpoint_attributes={"a": {"value": 2.0}})
    one = simulate_event_log(loop, 50, rng=np.random.default_rng(4), max_touches=10)
    two = simulate_event_log(loop, 50, rng=np.random.default_rng(4), max_touches=10)
    pd.testing.assert_frame_equal(one, two)
    assert one.groupby("user_id").size().max() == 10
    assert one.timestamp.is_monotonic_increasing and (one.value == 2.0).all()
    assert list(one.columns) == ["user_id", "timestamp", "touchpoint", "value"]


def _tied_log(tmp_path, suffix):
    """Shuffled events of 400 customers, many at the same instant (ties resolved by file row)."""
    rng = np.random.default_rng(5)
    n = 4000
    log = pd.DataFrame({"user_id": rng.integers(0, 400, n),
                        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 50, n), unit="h"),
                        "touchpoint": rng.choice(["ad", "mail", "page", "buy"], n),
                        "segment": rng.choice(["a", "b"], n)})
    log["value"] = np.where(log.touchpoint == "buy", 10.0, 0.0)
    path = tmp_path / f"log.{suffix}"
    write_event_log(log, path)
    return log, path


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_fit_counts_equal_a_stable_sort_and_survive_every_fallback(tmp_path, monkeypatch, suffix):
    from journeysim.logs import counts as _fitsql

    log, path = _tied_log(tmp_path, suffix)
    fast, stage_fast = [], _fitsql._stage_fast
    monkeypatch.setattr(_fitsql, "_stage_fast", lambda *a: fast.append(stage_fast(*a)) or fast[-1])
    fit = fit_events(path, goals=["buy"], repeat=True, lookback=6 * 3600)
    assert [f is not None for f in fast] == ([True] if suffix == "csv" else [])   # a clean CSV: the fast reader
    # The reference: a stable sort by user and time keeps file order for ties.
    s = log.sort_values(["user_id", "timestamp"], kind="stable")
    nxt, gap = s.groupby("user_id").touchpoint.shift(-1), s.groupby("user_id").timestamp.shift(-1) - s.timestamp
    moves = s[nxt.notna() & (gap <= pd.Timedelta(hours=6))].assign(dest=nxt).groupby(["touchpoint", "dest"]).size()
    departures = s.groupby("touchpoint").size()
    for (a, b), count in moves.items():
        assert fit.journey.rows[a][b].p == count / departures[a]
    assert fit.cut == int((gap > pd.Timedelta(hours=6)).sum())
    assert fit.journey.touchpoints["buy"].value == 10.0
    # DuckDB's own reader, with two names sharing a hash (salted anew): the same map.
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    hashed, names = [], _fitsql._names

    def collide_once(con, events):
        hashed.append(events)
        return None if len(hashed) == 1 else names(con, events)

    monkeypatch.setattr(_fitsql, "_names", collide_once)
    _assert_same_fit(fit_events(path, goals=["buy"], repeat=True, lookback=6 * 3600), fit)
    assert len(hashed) == 2 and "hash(tp, seg, 1)" in hashed[1]
    monkeypatch.undo()
    # Rows arriving unsorted (the ordered window takes over): the same map.
    windows, pass_sql = [], _fitsql._pass_sql

    def unsorted_stream(events, over, *args, **kwargs):
        windows.append(over)
        return pass_sql(events, over, *args, **kwargs).replace("ORDER BY u, t, rn", "ORDER BY rn" if not over else over)

    monkeypatch.setattr(_fitsql, "_pass_sql", unsorted_stream)
    _assert_same_fit(fit_events(path, goals=["buy"], repeat=True, lookback=6 * 3600), fit)
    assert windows == ["", "ORDER BY u, t, rn"]


def _assert_same_fit(one, two):
    a, b = one.journey, two.journey
    assert (dict(a.entry), dict(a.observations), one.cut) == (dict(b.entry), dict(b.observations), two.cut)
    assert {k: {d: e.p for d, e in r.items()} for k, r in a.rows.items()} == \
        {k: {d: e.p for d, e in r.items()} for k, r in b.rows.items()}
    assert {s: (g.share, dict(g.entry)) for s, g in a.segments.items()} == \
        {s: (g.share, dict(g.entry)) for s, g in b.segments.items()}
    for name, tp in a.touchpoints.items():   # delay sums may differ in the last digit (summation order)
        assert tp.delay.mean == pytest.approx(b.touchpoints[name].delay.mean, rel=1e-12)


@pytest.mark.parametrize("in_order", [True, False])
def test_a_customer_changing_segment_ends_a_journey_of_one_and_starts_one_of_the_other(tmp_path, monkeypatch,
                                                                                       in_order):
    from journeysim.logs import counts as _fitsql

    t = pd.Timestamp("2025-01-01")
    rows = [(1, 0, "ad", "new"), (1, 1, "buy", "new"), (1, 2, "ad", "returning"), (1, 3, "buy", "returning"),
            (2, 0, "ad", "new"), (2, 1, "buy", "new"), (3, 0, "ad", "returning")]
    log = pd.DataFrame([(u, t + pd.Timedelta(days=d), tp, seg) for u, d, tp, seg in rows],
                       columns=["user_id", "timestamp", "touchpoint", "segment"])
    log = log.sort_values("timestamp", kind="stable")
    path = tmp_path / "events.csv"
    write_event_log(log, path)
    if not in_order:
        monkeypatch.setattr(_fitsql, "count_in_order", lambda *a, **k: None)
    fit = fit_events(path, goals=["buy"], repeat=True)
    assert fit.method.startswith("one pass over the file") == in_order
    j = fit.journey
    assert (fit.journeys, dict(j.entry)) == (3, {"ad": 1.0})     # pooled: the whole timeline is one journey
    assert {k: {d: e.p for d, e in r.items()} for k, r in j.rows.items()} == {"ad": {"buy": 0.75}, "buy": {"ad": 1 / 3}}
    def seg(name):
        s = j.segments[name]
        return s.share, dict(s.entry), {k: {d: e.p for d, e in r.items()} for k, r in s.rows.items()}

    assert seg("new") == (0.5, {"ad": 1.0}, {"ad": {"buy": 1.0}, "buy": {}})   # buy -> returning's ad: a drop-off
    assert seg("returning") == (0.5, {"ad": 1.0}, {"ad": {"buy": 0.5}, "buy": {}})
    assert any(w.startswith("1 moves changed segment") for w in fit.warnings)


def test_segments_sharing_an_entry_each_reach_their_own_touchpoints(tmp_path):
    """Only the second segment (alphabetically) reaches the goal from the entry both share."""
    path = tmp_path / "events.csv"
    path.write_text("user_id,timestamp,touchpoint,value,segment\n1,2025-01-01 10:00:00,ad,,browsers\n"
                    "1,2025-01-01 11:00:00,page,,browsers\n2,2025-01-01 10:00:00,ad,,regulars\n"
                    "2,2025-01-01 11:00:00,buy,10,regulars\n", encoding="utf-8")
    fit = fit_events(path)
    assert fit.journey.reachable() == {"ad", "page", "buy"}
    ad_rows = {s: {d: e.p for d, e in g.rows["ad"].items()} for s, g in fit.journey.segments.items()}
    assert ad_rows == {"browsers": {"page": 1.0}, "regulars": {"buy": 1.0}}


def test_a_stages_csv_from_a_spreadsheet_byte_order_mark_and_all(tmp_path):
    from journeysim.errors import DataError
    from journeysim.logs.stages import read_stages

    stages = tmp_path / "stages.csv"
    stages.write_bytes("\ufefftouchpoint,stage\r\nad ,awareness\r\nbuy,purchase\r\nad,awareness\r\n".encode())
    assert read_stages(stages) == {"ad": "awareness", "buy": "purchase"}
    stages.write_text("touchpoint,stage\nad,awareness\nbuy,purchase\nad,consideration\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"stages.csv: line 4: touchpoint 'ad' is given stage 'consideration', "
                                        r"but an earlier line gave it 'awareness'"):
        read_stages(stages)
