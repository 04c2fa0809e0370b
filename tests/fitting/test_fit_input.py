"""Reading event logs for fit and attribute: the fast CSV reader agrees with DuckDB's, and bad files say what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeysim.attribution.credit import attribute_file
from journeysim.cli import main
from journeysim.engines.eventlog import write_event_log
from journeysim.errors import DataError
from journeysim.fitting.fit import fit_events
from tests.fitting.fit_summary import fit_summary

HEADER = "user_id,timestamp,touchpoint,value\n"


def _latin1(rows: int, bad: int, *, in_user: bool = False) -> bytes:
    """A log of ``rows`` rows whose row ``bad`` has a Latin-1 'é' (not UTF-8) in its touchpoint or text user id."""
    lines = [f"{'u' * in_user}{i},2025-01-01 10:00,ad,0" for i in range(1, rows + 1)]
    lines[bad - 1] = f"ué{bad},2025-01-01 10:00,ad,0" if in_user else f"{bad},2025-01-01 10:00,café,0"
    return (HEADER + "\n".join(lines) + "\n").encode("latin-1")


BAD_FILES = [
    # (content, extra args, the one-line error expected): a bad row is reported as such even without --goal
    (HEADER + "1,2025-01-01,ad,-3\n", [], "row 1: value -3 is negative"),
    (HEADER + "1,2025-01-01,ad,lots\n", [], "row 1: value 'lots' is not a number"),
    (HEADER + "1,2025-01-01,ad,0\n1,2025-01-02,buy,inf\n", [], "row 2: value 'inf' is not a finite number"),
    (HEADER + "1,2025-01-01,ad,0\n1,2025-01-02,buy,nan\n", ["--goal", "buy"], "row 2: value 'nan' is not a finite number"),
    (HEADER + "1,2025-01-01,ad,2\n2,soon,ad,1\n", [], "row 2: timestamp 'soon' is not a date and time"),
    # an empty time said "timestamp None is not a date and time"
    (HEADER + "1,2025-01-01,ad,2\n2,,ad,1\n", [], "row 2: timestamp is empty (every event needs its date and time)"),
    (HEADER, [], "no events (the file has only a header)"),
    (HEADER, ["--goal", "buy"], "no events (the file has only a header)"),
    (HEADER + "1,2025-01-01,ad,0\n1,2025-01-02,page,0,extra\n", [], "row 2 has 5 fields but the header has 4"),
    (HEADER + "1,2025-01-01,ad,0\n1,2025-01-02\n", [], "row 2 has 2 fields but the header has 4"),
    (HEADER + "".join(f"{i},2025-01-01,ad,0\n" for i in range(120_000)) + "1,2025-01-02,page,0,extra\n",
     ["--goal", "ad"], "row 120001 has 5 fields but the header has 4"),
    (_latin1(3, 2), [], "is not UTF-8 text (first bad character in row 2); save it as UTF-8"),
    (_latin1(40_000, 39_000), ["--goal", "ad"], "is not UTF-8 text (first bad character in row 39000)"),
    (_latin1(5, 4, in_user=True), ["--goal", "ad"], "is not UTF-8 text (first bad character in row 4)"),
    (_latin1(200_000, 150_000, in_user=True), ["--goal", "ad"], "not UTF-8 text (first bad character in row 150000)"),
]


@pytest.mark.parametrize("command", ["fit", "attribute"])
@pytest.mark.parametrize("content, extra, expected", BAD_FILES)
def test_a_bad_file_says_what_is_wrong(tmp_path, capsys, command, content, extra, expected):
    src = tmp_path / "events.csv"
    src.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    out = tmp_path / "map.yaml"
    assert main([command, str(src), *extra] + (["-o", str(out)] if command == "fit" else [])) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{src}: ") and expected in err and len(err.splitlines()) == 1
    assert "goal" not in err or "goal" in expected
    assert list(tmp_path.iterdir()) == [src]


@pytest.mark.parametrize("row, expected", [
    ("ad > page,3,inf,1", "row 1: total_null 'inf' is not a finite number"),
    ("ad > page,3,1,nan", "row 1: total_conversion_value 'nan' is not a finite number"),
])
def test_a_path_file_with_an_infinite_count_or_value_is_refused(tmp_path, capsys, row, expected):
    src = tmp_path / "paths.csv"
    src.write_text("path,total_conversions,total_null,total_conversion_value\n" + row + "\n", encoding="utf-8")
    assert main(["attribute", str(src)]) == 1
    assert capsys.readouterr().err.strip() == f"{src}: {expected}"


def test_an_infinite_value_in_a_parquet_log_is_refused(tmp_path):
    path = tmp_path / "events.parquet"
    write_event_log(pd.DataFrame({"user_id": [1, 1], "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"]),
                                  "touchpoint": ["ad", "buy"], "value": [0.0, float("inf")]}), path)
    with pytest.raises(DataError, match=r"events.parquet: row 2: value inf is not a finite number"):
        fit_events(path, goals=["buy"])


def test_a_parquet_log_without_rows_has_no_events(tmp_path):
    path = tmp_path / "events.parquet"
    write_event_log(pd.DataFrame({"user_id": pd.Series([], dtype="int64"), "timestamp": pd.to_datetime([]),
                                  "touchpoint": pd.Series([], dtype=object)}), path)
    with pytest.raises(DataError, match=r"events.parquet: no events \(the file has no rows\)"):
        fit_events(path, goals=["buy"])


def _log(n: int, seed: int) -> pd.DataFrame:
    """Events of 300 customers in random file order, with ties (whole hours), values and segments."""
    rng = np.random.default_rng(seed)
    log = pd.DataFrame({"user_id": rng.integers(0, 300, n),
                        "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 40, n), unit="h"),
                        "touchpoint": rng.choice(["ad", "mail", "page", "buy"], n, p=[0.3, 0.2, 0.3, 0.2])})
    log["value"] = np.where(log.touchpoint == "buy", rng.choice([10.0, 25.0], n), 0.0)
    log["segment"] = np.where(log.user_id % 3 == 0, "new", "loyal")
    return log


@pytest.mark.parametrize("repeat, lookback", [(False, None), (True, 5 * 3600), (False, 5 * 3600)])
def test_fast_and_duckdb_readers_fit_the_same_map(tmp_path, monkeypatch, repeat, lookback):
    from journeysim.logs import counts as _fitsql

    log = _log(3000, 1)
    shuffled, ordered = tmp_path / "shuffled.csv", tmp_path / "ordered.csv"
    write_event_log(log, shuffled)
    # A stable sort by time keeps each customer's ties in the same file order: the same journeys.
    write_event_log(log.sort_values("timestamp", kind="stable"), ordered)
    keys, pass_sql = [], _fitsql._pass_sql
    monkeypatch.setattr(_fitsql, "_pass_sql", lambda *a, **k: keys.append(k.get("key")) or pass_sql(*a, **k))
    fast = [fit_events(p, repeat=repeat, lookback=lookback) for p in (shuffled, ordered)]
    # The shuffled file is sorted; the ordered one is counted as it is read, with no sort.
    assert keys == ["u, t, rn"] and [f.method.startswith("one pass over the file") for f in fast] == [False, True]
    monkeypatch.setattr(_fitsql, "count_in_order", lambda *a, **k: None)
    sorted_ordered = fit_events(ordered, repeat=repeat, lookback=lookback)
    assert keys == ["u, t, rn", "u, rn"]       # sorted, a file in time order needs no time in the sort key
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    exact = fit_events(shuffled, repeat=repeat, lookback=lookback)
    assert fit_summary(fast[0]) == fit_summary(fast[1]) == fit_summary(sorted_ordered) == fit_summary(exact)
    assert fast[0].goals == ("buy",) and fast[0].journey.touchpoints["buy"].value == pytest.approx(
        log.value[log.touchpoint == "buy"].mean())


def test_a_bad_row_past_the_first_block_is_reported_by_duckdbs_reader(tmp_path):
    log = _log(120_000, 2)   # several of the fast reader's blocks
    path = tmp_path / "events.csv"
    write_event_log(log, path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[100_000] = lines[100_000].replace("2025-01", "2025-13", 1)   # data row 100000: month 13
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=r"events.csv: row 100000: timestamp '2025-13-.*' is not a date and time"):
        fit_events(path, goals=["buy"])


def test_a_semicolon_log_is_read_by_duckdbs_reader_with_the_same_fit(tmp_path):
    log = _log(2000, 3)
    comma, semicolon = tmp_path / "comma.csv", tmp_path / "semicolon.csv"
    write_event_log(log, comma)
    semicolon.write_text(comma.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    assert fit_summary(fit_events(semicolon)) == fit_summary(fit_events(comma))


def test_text_user_ids_take_the_fast_reader_and_fit_the_same_map(tmp_path, monkeypatch):
    from journeysim.logs import counts as _fitsql

    log = _log(2000, 4).assign(user_id=lambda f: "c-" + f.user_id.astype(str))
    path = tmp_path / "events.csv"
    write_event_log(log, path)
    fast, stage_fast = [], _fitsql._stage_fast
    monkeypatch.setattr(_fitsql, "_stage_fast", lambda *a: fast.append(stage_fast(*a)) or fast[-1])
    quick = fit_events(path, lookback=3 * 3600)
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    assert fast[0] is not None and fit_summary(quick) == fit_summary(fit_events(path, lookback=3 * 3600))


OFFSET_LOG = """user_id,timestamp,touchpoint,value
1,2025-03-01T10:00:00+02:00,ad,0
2,2025-03-01T12:00:00Z,ad,0
1,2025-03-01T09:30:00+00:00,buy,5
2,2025-03-01T13:00:00+01:00,page,0
"""


def test_times_with_a_utc_offset_are_instants_by_every_reader(tmp_path, monkeypatch):
    """Customer 1's buy is 1.5 h after the ad (wall clocks say half an hour before); customer 2's page is at the
    same instant as the ad. Every reader (and Parquet with zoned times) gives that map."""
    from journeysim.logs import counts as _fitsql

    path = tmp_path / "events.csv"
    path.write_text(OFFSET_LOG, encoding="utf-8")
    parquet = tmp_path / "events.parquet"
    frame = pd.read_csv(path)
    frame.assign(timestamp=pd.to_datetime(frame.timestamp, format="ISO8601", utc=True)).to_parquet(parquet)
    fits = [fit_events(path), fit_events(parquet)]
    monkeypatch.setattr(_fitsql, "count_in_order", lambda *a, **k: None)
    fits.append(fit_events(path))
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    fits.append(fit_events(path))
    rows = fits[0].journey.rows
    assert {k: {d: e.p for d, e in r.items()} for k, r in rows.items()} == {"ad": {"buy": 0.5, "page": 0.5}, "page": {}}
    assert fits[0].journey.touchpoints["ad"].delay.mean == pytest.approx(0.75 / 24)
    assert fits[0].method.startswith("one pass over the file")
    assert all(fit_summary(f) == fit_summary(fits[0]) for f in fits[1:])
    # attribute cuts the same journeys: customer 1's ad before the buy, customer 2's ad and page unconverted
    assert attribute_file(path, ["first"], goals=["buy"]).models["first"] == {"ad": (1.0, 5.0), "page": (0.0, 0.0)}


def test_a_log_mixing_times_with_and_without_offsets_takes_naive_times_as_utc(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user_id,timestamp,touchpoint,value\n1,2025-03-01 08:00:00,ad,0\n"
                    "1,2025-03-01T12:00:00+02:00,buy,5\n", encoding="utf-8")
    fit = fit_events(path)
    assert fit.journey.touchpoints["ad"].delay.mean == pytest.approx(2 / 24)   # 08:00 UTC to 10:00 UTC


@pytest.mark.parametrize("ids", [("007", "7"), ("12000000000000000001", "12000000000000000002"), ("1.0", "1"),
                                 ("true", "TRUE")])
@pytest.mark.parametrize("filler", [0, 120_000])   # the ids first seen in the first block, or past it
def test_user_ids_are_labels_never_numbers(tmp_path, monkeypatch, ids, filler):
    """Two ids a number parser would merge are two customers, by every reader and in attribute too."""
    from journeysim.logs import counts as _fitsql

    a, b = ids
    lines = [f"{100000 + i},2025-01-01 00:00:00,filler,0" for i in range(filler)]
    lines += [f"{a},2025-02-01 10:00:00,ad,0", f"{b},2025-02-01 11:00:00,page,0", f"{b},2025-02-01 12:00:00,buy,10"]
    path = tmp_path / "events.csv"
    path.write_text("user_id,timestamp,touchpoint,value\n" + "\n".join(lines) + "\n", encoding="utf-8")
    fits = [fit_events(path, goals=["buy"])]
    monkeypatch.setattr(_fitsql, "count_in_order", lambda *a, **k: None)
    fits.append(fit_events(path, goals=["buy"]))
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    fits.append(fit_events(path, goals=["buy"]))
    for fit in fits:
        assert fit.journey.rows["ad"] == {} and fit.journey.rows["page"]["buy"].p == 1.0
    assert attribute_file(path, ["first"], goals=["buy"]).models["first"]["page"] == (1.0, 10.0)


def test_touchpoint_and_segment_names_are_trimmed_by_every_reader(tmp_path, monkeypatch):
    from journeysim.logs import counts as _fitsql

    path = tmp_path / "events.csv"
    path.write_text("user_id, timestamp, touchpoint, value, segment\n1,2025-01-01 10:00, ad,0, new\n"
                    "1,2025-01-01 11:00,ad ,0,new\n1,2025-01-01 12:00, buy,5,new \n", encoding="utf-8")
    fits = [fit_events(path, goals=["buy"])]
    monkeypatch.setattr(_fitsql, "csv_events", lambda *a, **k: None)
    fits.append(fit_events(path, goals=["buy"]))
    for fit in fits:
        assert {k: {d: e.p for d, e in r.items()} for k, r in fit.journey.rows.items()} == {"ad": {"ad": 0.5,
                                                                                                   "buy": 0.5}}
        assert list(fit.journey.segments) == ["new"]


def test_a_lookback_longer_than_any_log_is_no_window(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(OFFSET_LOG, encoding="utf-8")
    assert fit_events(path, lookback=1e300).cut == 0
    assert attribute_file(path, ["first"], goals=["buy"], lookback=1e300).models["first"]["ad"] == (1.0, 5.0)
