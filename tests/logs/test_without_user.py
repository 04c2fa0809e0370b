"""Events without a user id (empty, only spaces as DuckDB's trim sees them, NULL) belong to no customer: every
reader leaves them out, counts them and names the first one's row, and fits, attributes and counts customers
exactly as if they were not in the file."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from journeysim.attribution.credit import attribute_file
from journeysim.errors import DataError
from journeysim.fitting.fit import fit_events
from journeysim.logs import counts
from journeysim.logs.customers import customer_totals
from journeysim.logs.layout import LogLayout
from journeysim.logs.touchpoints import read_touchpoint_map
from journeysim.maps.read import dump_journey
from tests.fitting.fit_summary import fit_summary
from tests.logs.test_layouts import GA4, GA4_MAP

IN_ORDER = "one pass over the file"
BLANKS = ["", '""', '"  "', "\u00a0", "\u3000 \u2009"]


def _log(n: int, seed: int) -> pd.DataFrame:
    """Events in time order of 200 text-id customers, with values and segments."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 200, n)
    return pd.DataFrame({"user_id": [f"c{u}" for u in users],
                         "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 90, n)),
                                                                                     unit="h"),
                         "touchpoint": rng.choice(["ad", "mail", "page", "buy"], n, p=[0.3, 0.2, 0.3, 0.2]),
                         "segment": np.where(users % 3 == 0, "new", "loyal")}).assign(
        value=lambda f: np.where(f.touchpoint == "buy", 12.5, 0.0))


def _csv_lines(log: pd.DataFrame) -> list[str]:
    """Text quoted, as many exports write it (DuckDB's sniffer then reads quotes wherever they are: one that saw
    none in its sample would read a '""' deep in the file as two quote characters, where pyarrow reads '')."""
    return log.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n",
                      quoting=csv.QUOTE_NONNUMERIC).splitlines()


def _with_blanks(log: pd.DataFrame, at: list[int], seed: int) -> tuple[str, int]:
    """The log as CSV text with events without a user id inserted before the data rows ``at`` (0-based), each
    spelled by one of :data:`BLANKS`; and the file row of the first."""
    rng = np.random.default_rng(seed)
    header, *rows = _csv_lines(log)
    out = [header]
    for i, row in enumerate(rows):
        while at and at[0] == i:
            at = at[1:]
            other = rows[int(rng.integers(len(rows)))]   # another event's time, touchpoint, value and segment
            out.append(rng.choice(BLANKS) + other[other.index(","):])
        out.append(row)
    return "".join(line + "\n" for line in out), 1 + next(k for k, line in enumerate(out[1:]) if not line.startswith('"c'))


def _every_reader(path, **kwargs) -> list:
    """The fit by the pass in file order, the sorted pass of the fast reader, and DuckDB's reader."""
    fits = [fit_events(path, **kwargs)]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(counts, "count_in_order", lambda *a, **k: None)
        fits.append(fit_events(path, **kwargs))
        m.setattr(counts, "csv_events", lambda *a, **k: None)
        fits.append(fit_events(path, **kwargs))
    assert [f.method.startswith(IN_ORDER) for f in fits] == [True, False, False]
    return fits


@pytest.mark.parametrize("at", [[0, 1, 2], [7, 7, 300, 2999], [2999]])
def test_every_reader_fits_the_map_of_the_log_without_them(tmp_path, at):
    log = _log(3000, 1)
    clean, path = tmp_path / "clean.csv", tmp_path / "log.csv"
    clean.write_text("".join(line + "\n" for line in _csv_lines(log)), encoding="utf-8")
    text, first = _with_blanks(log, list(at), seed=len(at))
    path.write_text(text, encoding="utf-8")
    assert first == at[0] + 1
    warning = counts.without_user(len(at), first)
    expected = fit_events(clean, lookback=20 * 3600)
    assert expected.without_user == 0 and expected.without_user_row is None and expected.warnings == ()
    # Parquet as exports write it: a NULL where the CSV is blank.
    parquet = tmp_path / "log.parquet"
    frame = pd.read_csv(path, dtype={"user_id": str}, keep_default_na=False, parse_dates=["timestamp"])
    frame.assign(user_id=frame.user_id.replace({b: None for b in ("", "\u00a0")})).to_parquet(parquet)
    for fit in [*_every_reader(path, lookback=20 * 3600), fit_events(parquet, lookback=20 * 3600)]:
        assert fit_summary(fit) == fit_summary(expected), fit.method
        assert (fit.without_user, fit.without_user_row, fit.warnings) == (len(at), first, (warning,))
        assert fit.to_dict()["events_without_user"] == len(at) and fit.to_dict()["first_row_without_user"] == first
    # attribute cuts the same journeys
    clean_credit = attribute_file(clean, ["first", "markov"], goals=["buy"]).to_dict()
    for source in (path, parquet):
        credit = attribute_file(source, ["first", "markov"], goals=["buy"])
        assert credit.warnings == (warning,) and (credit.without_user, credit.without_user_row) == (len(at), first)
        assert credit.to_dict() == {**clean_credit, "warnings": [warning], "events_without_user": len(at),
                                    "first_row_without_user": first}


def test_the_first_row_is_counted_past_the_fast_readers_first_block(tmp_path):
    log = _log(150_000, 2)   # several of the fast reader's blocks
    path = tmp_path / "log.csv"
    text, first = _with_blanks(log, [120_000, 120_001, 140_000], seed=2)
    path.write_text(text, encoding="utf-8")
    assert first == 120_001
    fits = _every_reader(path, goals=["buy"])
    assert all(f.warnings[0] == counts.without_user(3, 120_001) for f in fits)
    assert all(fit_summary(f) == fit_summary(fits[0]) for f in fits[1:])


def test_ids_of_other_whitespace_are_customers_and_spaces_around_an_id_are_kept(tmp_path):
    """DuckDB's trim takes off space separators, not tabs or zero-width spaces: an id of those is a customer's;
    and an id is not trimmed (' u1' and 'u1' are two customers), only judged empty or not."""
    path = tmp_path / "log.csv"
    path.write_text('user_id,timestamp,touchpoint\n"\t",2025-01-01 00:00,ad\n"\t",2025-01-01 00:01,buy\n'
                    "\u200b,2025-01-01 00:02,ad\n\u200b,2025-01-01 00:03,mail\n"
                    "u1,2025-01-01 00:04,ad\n\u00a0u1,2025-01-01 00:05,buy\n \u00a0,2025-01-01 00:06,ad\n",
                    encoding="utf-8")
    for fit in _every_reader(path, goals=["buy"]):
        assert {a: {b: e.p for b, e in r.items()} for a, r in fit.journey.rows.items()} == \
            {"ad": {"buy": 1 / 3, "mail": 1 / 3}, "mail": {}}
        assert (fit.without_user, fit.without_user_row) == (1, 7)
        assert fit.warnings[0] == "1 event with an empty 'user_id' (row 7) was left out: it belongs to no customer"


def test_they_are_checked_like_every_row(tmp_path):
    """A bad row is reported whoever's it is: the row's problem is not hidden by its empty user id."""
    path = tmp_path / "log.csv"
    path.write_text("user_id,timestamp,touchpoint,value\nu1,2025-01-01,ad,0\nu1,2025-01-02,buy,5\n"
                    ",yesterday,ad,0\n,2025-01-03,ad,-4\n", encoding="utf-8")
    for fit in (fit_events, lambda p: attribute_file(p, ["first"])):
        with pytest.raises(DataError, match=r"log.csv: row 3: timestamp 'yesterday' is not a date and time"):
            fit(path)
    path.write_text("user_id,timestamp,touchpoint,value\nu1,2025-01-01,ad,0\nu1,2025-01-02,buy,5\n"
                    ",2025-01-03,ad,-4\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"log.csv: row 3: value -4 is negative"):
        fit_events(path)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_log_in_which_no_event_has_a_user_id_has_no_events(tmp_path, suffix):
    frame = pd.DataFrame({"user_id": [None, " ", ""], "timestamp": pd.to_datetime(["2025-01-01"] * 3),
                          "touchpoint": ["ad", "ad", "buy"], "value": [0.0, 0.0, 5.0]})
    path = tmp_path / f"log.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    message = (f"{path}: no events left: every one of the 3 events has an empty 'user_id', so none belongs to a "
               "customer (is it the customer id? name yours with --user-column)")
    for read in (fit_events, lambda p: attribute_file(p, ["first"])):
        with pytest.raises(DataError) as caught:
            read(path)
        assert str(caught.value) == message
    with pytest.raises(DataError, match=r"no customers: every one of the 3 events has an empty 'user_id'"):
        customer_totals(path, ["buy"])


def test_integer_ids_in_parquet_are_left_out_when_null(tmp_path):
    frame = pd.DataFrame({"user_id": pd.array([1, 1, None, 2, 2, None], dtype="Int64"),
                          "timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 00:01", "2025-01-01 00:02",
                                                       "2025-01-01 00:03", "2025-01-01 00:04", "2025-01-01 00:05"]),
                          "touchpoint": ["ad", "buy", "ad", "ad", "mail", "buy"]})
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    fit = fit_events(path, goals=["buy"])
    assert (fit.without_user, fit.without_user_row, fit.events) == (2, 3, 4)
    assert {a: {b: e.p for b, e in r.items()} for a, r in fit.journey.rows.items()} == \
        {"ad": {"buy": 0.5, "mail": 0.5}, "mail": {}}
    assert customer_totals(path, ["buy"]).without_user == 2


def test_a_ga4_export_under_consent_mode(tmp_path, monkeypatch):
    """GA4 writes the events of visitors who declined cookies with an empty user_pseudo_id. The touchpoint map
    drops what it drops whoever's it is; of the events it keeps, those without a user are left out."""
    lines = GA4.splitlines()
    anonymous = [",1735725650000000,page_view,https://shop.example/pricing,",          # kept by the map: left out
                 ",1735725651000000,session_start,https://shop.example/,",            # dropped by the map
                 ",1735725652000000,purchase,https://shop.example/thanks,99"]         # a conversion: left out
    text = "\n".join([*lines[:3], *anonymous, *lines[3:]]) + "\n"
    (tmp_path / "clean").mkdir()
    path, clean = tmp_path / "ga4.csv", tmp_path / "clean" / "ga4.csv"
    path.write_text(text, encoding="utf-8")
    clean.write_text(GA4, encoding="utf-8")
    (tmp_path / "map.yaml").write_text(GA4_MAP, encoding="utf-8")
    layout = LogLayout(user="user_pseudo_id", time="event_timestamp", touchpoint="event_name",
                       value="purchase_revenue", time_unit="us",
                       touchpoints=read_touchpoint_map(tmp_path / "map.yaml"))
    expected = fit_events(clean, goals=["purchase"], layout=layout)
    warning = "2 events with an empty 'user_pseudo_id' (the first in row 3) were left out: they belong to no customer"
    for fit in _every_reader(path, goals=["purchase"], layout=layout):
        assert dump_journey(fit.journey) == dump_journey(expected.journey)
        assert fit.warnings == (warning,) and dict(fit.dropped) == {"session_start": 3, "scroll": 1}
    assert attribute_file(path, ["first"], goals=["purchase"], layout=layout).warnings == (warning,)


def test_customer_totals_leave_them_out(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("user_id,timestamp,touchpoint,value\nu1,2025-01-01,ad,0\n,2025-01-01,buy,50\n"
                    "u1,2025-01-02,buy,10\n\"  \",2025-01-02,buy,7\nu2,2025-01-03,ad,0\n", encoding="utf-8")
    totals = customer_totals(path, ["buy"])
    assert (totals.customers, totals.converted, totals.value_sum, totals.value_sumsq) == (2, 1, 10.0, 100.0)
    assert (totals.without_user, totals.without_user_row) == (2, 2)


def test_quotes_only_deep_in_a_file_read_alike_by_every_reader(tmp_path):
    # DuckDB's sniffer samples the first rows; seeing no quote there it turned quoting off, so a field quoted
    # further down split ("product, page": a fourth column) or kept its quotes ('""' as a user id of two quotes)
    rows = ["user_id,timestamp,touchpoint"]
    for i in range(30_000):
        rows += [f"u{i},2025-01-01 00:00:00,ad", f"u{i},2025-01-01 00:01:00,{'buy' if i % 3 == 0 else 'page'}"]
    rows += ['u1,2025-01-01 00:02:00,"product, page"', '"",2025-01-01 00:03:00,ad']
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fits = _every_reader(path, goals=["buy"])
    for fit in fits:
        assert "product, page" in fit.journey.names and fit.journey.rows["page"]["product, page"].p == 1 / 20_000
        assert (fit.without_user, fit.without_user_row) == (1, 60_002)
