"""Event-log exports as they come (issue 18): other column names, conversion flags on the touch row, conversion
marker rows, epoch times, event names mapped to touchpoints. Checked against values worked out by hand, against
the same log in the standard layout, and across the passes (in file order, sorted, DuckDB's reader, Parquet)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.attribution.credit import attribute_file
from journeysim.errors import DataError, UsageError
from journeysim.fitting.fit import fit_events
from journeysim.logs import _csv as fast_reader
from journeysim.logs import counts
from journeysim.logs.layout import LogLayout
from journeysim.logs.touchpoints import Rule, TouchpointMap, read_touchpoint_map
from journeysim.maps.read import dump_journey
from tests.fitting.fit_summary import fit_summary

# A multi-touch attribution export: one row per touch, the conversion flagged on the touch that converted.
MTA = ("customer_id,time,channel,interaction,conversion_value\n"
       "c1,2025-01-01 10:00,search,impression,0\n"
       "c1,2025-01-02 10:00,email,impression,0\n"
       "c1,2025-01-03 10:00,display,conversion,50\n"
       "c2,2025-01-01 11:00,email,impression,0\n"
       "c2,2025-01-02 11:00,search,conversion,20\n"
       "c3,2025-01-01 12:00,display,impression,0\n"
       "c3,2025-01-03 12:00,search,impression,0\n")
MTA_LAYOUT = LogLayout(user="customer_id", time="time", touchpoint="channel", value="conversion_value",
                       conversion="interaction", conversion_value="conversion")

# A GA4-style export: microsecond epoch times, events (page views told apart by their page), revenue on purchases.
GA4 = ("user_pseudo_id,event_timestamp,event_name,page_location,purchase_revenue\n"
       "u1,1735725600000000,session_start,https://shop.example/,\n"
       "u1,1735725601000000,page_view,https://shop.example/,\n"
       "u1,1735725660000000,page_view,https://shop.example/pricing?plan=pro,\n"
       "u1,1735725700000000,add_to_cart,https://shop.example/cart,\n"
       "u1,1735725800000000,purchase,https://shop.example/thanks,49.5\n"
       "u2,1735812000000000,session_start,https://shop.example/blog/post,\n"
       "u2,1735812001000000,page_view,https://shop.example/blog/post,\n"
       "u2,1735812100000000,scroll,https://shop.example/blog/post,\n"
       "u2,1735812200000000,page_view,https://shop.example/pricing,\n"
       "u3,1735900000000000,page_view,https://shop.example/pricing,\n"
       "u3,1735900100000000,add_to_cart,https://shop.example/cart,\n"
       "u3,1735900200000000,purchase,https://shop.example/thanks,20\n")
GA4_MAP = """page_view:
  - {column: page_location, pattern: "*/pricing*", touchpoint: pricing page}
  - {column: page_location, pattern: "*/blog/*", touchpoint: blog}
  - {touchpoint: other page}
add_to_cart: cart
purchase: purchase
session_start: null
"""


def _rows(fit) -> dict:
    return {a: {b: e.p for b, e in row.items()} for a, row in fit.journey.rows.items()}


def _every_pass(path, monkeypatch, **kwargs) -> list:
    """The fit by the pass in file order, the sorted pass, and DuckDB's reader alone (CSV, then Parquet)."""
    fits = [fit_events(path, **kwargs)]
    with monkeypatch.context() as m:
        m.setattr(counts, "count_in_order", lambda *a, **k: None)
        fits.append(fit_events(path, **kwargs))
        m.setattr(counts, "csv_events", lambda *a, **k: None)
        fits.append(fit_events(path, **kwargs))
    parquet = path.with_suffix(".parquet")
    pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None).to_parquet(parquet)
    fits.append(fit_events(parquet, **kwargs))
    assert [f.method.startswith("one pass over the file") for f in fits] == [True, False, False, False]
    return fits


def test_a_conversion_flag_on_the_touch_row_is_the_touch_then_the_goal(tmp_path, monkeypatch):
    path = tmp_path / "mta.csv"
    path.write_text(MTA, encoding="utf-8")
    fits = _every_pass(path, monkeypatch, layout=MTA_LAYOUT)
    fit = fits[0]
    # By hand: c1 search > email > display + conversion; c2 email > search + conversion; c3 display > search.
    assert fit.goals == ("conversion",) and not fit.goals_by_default
    assert _rows(fit) == {"search": {"email": 1 / 3, "conversion": 1 / 3}, "email": {"display": 0.5, "search": 0.5},
                          "display": {"conversion": 0.5, "search": 0.5}}
    assert dict(fit.journey.entry) == {"search": 1 / 3, "email": 1 / 3, "display": 1 / 3}
    assert dict(fit.journey.observations) == {"entry": 3.0, "search": 3.0, "email": 2.0, "display": 2.0}
    assert fit.journey.touchpoints["conversion"].value == 35.0 and fit.events == 9 and fit.journeys == 3
    # The conversion's time is the touch's: no zero gap joins the touch's delay (display: c3's two days only).
    assert fit.delays["display"].n == 1 and fit.journey.touchpoints["display"].delay.mean == 2.0
    assert all(fit_summary(f) == fit_summary(fit) for f in fits[1:])
    attribution = attribute_file(path, ["last", "first"], layout=MTA_LAYOUT)
    assert attribution.models["last"] == {"display": (1.0, 50.0), "search": (1.0, 20.0), "email": (0.0, 0.0)}
    assert attribution.models["first"] == {"search": (1.0, 50.0), "email": (1.0, 20.0), "display": (0.0, 0.0)}
    assert attribution.goals == ("conversion",) and attribution.journeys == 3


def test_the_goal_of_a_conversion_flag_log_is_named_by_goal(tmp_path):
    path = tmp_path / "mta.csv"
    path.write_text(MTA.replace("interaction", "converted").replace("impression", "0").replace("conversion,", "1,"))
    layout = LogLayout(user="customer_id", time="time", touchpoint="channel", value="conversion_value",
                       conversion="converted")
    fit = fit_events(path, goals=["sale"], layout=layout)
    assert fit.goals == ("sale",) and _rows(fit)["search"] == {"email": 1 / 3, "sale": 1 / 3}
    with pytest.raises(UsageError, match="has one goal, the conversion"):
        fit_events(path, goals=["sale", "buy"], layout=layout)


def _standard_log(seed: int, n: int = 400) -> pd.DataFrame:
    """A standard log in time order: touches and 'buy' goal rows (with a value) of a few customers."""
    rng = np.random.default_rng(seed)
    seconds = np.cumsum(rng.integers(0, 4000, n))
    return pd.DataFrame({"user_id": rng.integers(0, 40, n).astype(str),
                         "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(seconds, unit="s"),
                         "touchpoint": rng.choice(["ad", "mail", "页面", "buy"], n, p=[0.35, 0.25, 0.25, 0.15])}
                        ).assign(value=lambda f: np.where(f.touchpoint == "buy", rng.choice([10.0, 25.5], n), 0.0))


def test_conversion_marker_rows_fit_the_map_of_goal_rows(tmp_path, monkeypatch):
    log = _standard_log(1)
    standard = tmp_path / "a" / "events.csv"
    standard.parent.mkdir()
    log.to_csv(standard, index=False)
    markers = tmp_path / "b" / "events.csv"
    markers.parent.mkdir()
    buy = log.touchpoint == "buy"
    log.assign(touchpoint=log.touchpoint.where(~buy, ""), kind=np.where(buy, "order", "visit")).to_csv(
        markers, index=False)
    layout = LogLayout(conversion="kind", conversion_value="order")
    # Pass by pass (sums of gaps added in another order may differ in the last digit between passes).
    references = _every_pass(standard, monkeypatch, goals=["buy"], repeat=True)
    for fit, reference in zip(_every_pass(markers, monkeypatch, goals=["buy"], repeat=True, layout=layout),
                              references):
        assert dump_journey(fit.journey) == dump_journey(reference.journey)
    flagged = attribute_file(markers, goals=["buy"], layout=layout).to_dict()
    assert flagged == attribute_file(standard, goals=["buy"]).to_dict() | {"goals_by_default": False}


def test_a_flag_on_the_touch_row_fits_the_rows_of_a_goal_row_after_it(tmp_path, monkeypatch):
    """The same journeys written with a goal row right after each converting touch (same time): every count
    agrees (only delays differ: the goal row's zero gap joins the touch's delay)."""
    log = _standard_log(2)
    log = log[log.touchpoint != "buy"].reset_index(drop=True)
    log["value"] = np.where(np.arange(len(log)) % 7 == 3, 12.0, 0.0)
    log["flag"] = np.where(log.value > 0, "yes", "no")
    goal_rows = log[log.flag == "yes"].assign(touchpoint="buy", flag="no")
    standard = pd.concat([log.assign(value=0.0), goal_rows]).sort_index(kind="stable")   # each after its touch
    a, b = tmp_path / "a" / "events.csv", tmp_path / "b" / "events.csv"
    a.parent.mkdir(), b.parent.mkdir()
    standard.drop(columns="flag").to_csv(a, index=False)
    log.to_csv(b, index=False)
    reference = fit_events(a, goals=["buy"])
    for fit in _every_pass(b, monkeypatch, goals=["buy"], layout=LogLayout(conversion="flag")):
        assert (_rows(fit), dict(fit.journey.entry), dict(fit.journey.observations), fit.journeys) == \
            (_rows(reference), dict(reference.journey.entry), dict(reference.journey.observations), reference.journeys)
        assert fit.journey.touchpoints["buy"].value == reference.journey.touchpoints["buy"].value == 12.0
    assert attribute_file(b, goals=["buy"], layout=LogLayout(conversion="flag")).models == \
        attribute_file(a, goals=["buy"]).models


def test_a_ga4_export_with_microsecond_times_and_a_touchpoint_map(tmp_path, monkeypatch):
    path, touchpoints = tmp_path / "ga4.csv", tmp_path / "touchpoints.yaml"
    path.write_text(GA4, encoding="utf-8")
    touchpoints.write_text(GA4_MAP, encoding="utf-8")
    layout = LogLayout(user="user_pseudo_id", time="event_timestamp", touchpoint="event_name",
                       value="purchase_revenue", time_unit="us", touchpoints=read_touchpoint_map(touchpoints))
    fits = _every_pass(path, monkeypatch, goals=["purchase"], layout=layout)
    fit = fits[0]
    # By hand: u1 other page > pricing page > cart > purchase; u2 blog > pricing page; u3 pricing page > cart >
    # purchase; session_start (dropped on purpose) and scroll (not in the map) are dropped.
    assert _rows(fit) == {"other page": {"pricing page": 1.0}, "pricing page": {"cart": 2 / 3},
                          "blog": {"pricing page": 1.0}, "cart": {"purchase": 1.0}}
    assert dict(fit.journey.entry) == {"other page": 1 / 3, "blog": 1 / 3, "pricing page": 1 / 3}
    assert fit.journey.touchpoints["purchase"].value == (49.5 + 20) / 2
    assert fit.dropped == {"session_start": 2, "scroll": 1}
    assert fit.journey.touchpoints["cart"].delay.mean == 100 / 86400     # both carts: 100 s to the purchase
    assert all(fit_summary(f) == fit_summary(fit) and f.dropped == fit.dropped for f in fits[1:])
    assert re.search(r"events dropped \(touchpoint map\) +│ +3 \(session_start 2, scroll 1\)", fit.summary())
    kept = fit_events(path, goals=["purchase"], layout=LogLayout(**{**layout.__dict__, "keep_unmapped": True}))
    assert _rows(kept)["blog"] == {"scroll": 1.0} and kept.dropped == {"session_start": 2}


def test_a_touchpoint_map_in_csv_reads_as_its_yaml(tmp_path):
    yaml_map, csv_map = tmp_path / "m.yaml", tmp_path / "m.csv"
    yaml_map.write_text(GA4_MAP, encoding="utf-8")
    csv_map.write_text("event,column,pattern,touchpoint\npage_view,page_location,*/pricing*,pricing page\n"
                       "page_view,page_location,*/blog/*,blog\npage_view,,,other page\nadd_to_cart,,,cart\n"
                       "purchase,,,purchase\nsession_start,,,\n", encoding="utf-8")
    strip = lambda m: [(r.event, r.touchpoint, r.column, r.pattern) for r in m.rules]  # noqa: E731
    assert strip(read_touchpoint_map(yaml_map)) == strip(read_touchpoint_map(csv_map))


@pytest.mark.parametrize("text, expected", [
    ("a: x\na:\n  - {touchpoint: y}\n", "duplicate key 'a'"),
    ("a:\n  - {touchpoint: x}\n  - {column: c, pattern: '*', touchpoint: y}\n",
     "event 'a' is already mapped to 'x' whatever its columns"),
    ("a:\n  - {column: c, touchpoint: y}\n", "'column' and 'pattern' go together"),
    ("a:\n  - {touchpoint: y, page: z}\n", "a rule is {touchpoint: NAME}"),
    ("- a\n", "maps event names to touchpoints"),
    ("{}\n", "has no rules"),
])
def test_a_bad_touchpoint_map_says_what_is_wrong(tmp_path, text, expected):
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="^" + str(path).replace("\\", "\\\\")) as err:
        read_touchpoint_map(path)
    assert expected in str(err.value) and len(str(err.value).splitlines()) == 1


def test_patterns_are_globs_read_alike_by_duckdb_and_arrow():
    """Characters special to regular expressions are plain in a glob; both engines use RE2 on the same pattern."""
    import duckdb
    import pyarrow as pa

    texts = ["a.b(c)", "axb(c)", "a.b(c)d", "A.B(C)", "x\ny.b(c)", "+[]{}|^$\\", ""]
    rules = TouchpointMap("m", (Rule("e", "hit", "c", "*.b(c)"), Rule("e", "meta", "c", "+[]{}|^$\\")))
    names, idx = rules.apply(["e"], np.zeros(len(texts), np.int64), lambda c: pa.array(texts), keep=False)
    arrow = [names[i] if i >= 0 else None for i in idx]
    sql = rules.sql("'e'", lambda c: "t", keep=False)
    con = duckdb.connect()
    ducks = [con.execute(f"SELECT {sql} FROM (SELECT $t AS t)", {"t": t}).fetchone()[0] for t in texts]
    assert arrow == ducks == ["hit", None, None, None, "hit", "meta", None]


_NAME = st.text(st.sampled_from("abcxyz_0123ÄØé"), min_size=1, max_size=8)


@settings(max_examples=8)
@given(seed=st.integers(0, 2**16), names=st.lists(_NAME, min_size=5, max_size=5, unique=True),
       unit=st.sampled_from(["s", "ms", "us"]), segments=st.booleans(), flag=st.sampled_from(["bool", "value"]),
       shuffle=st.booleans())
def test_renamed_columns_and_their_options_give_identical_results(tmp_path_factory, seed, names, unit, segments,
                                                                  flag, shuffle):
    """The standard log, and the same log with other column names (in another order, beside an unrelated column
    named like a standard one), epoch times and conversion marker rows: byte-identical maps, fits and attributions."""
    log = _standard_log(seed, 150)
    if segments:
        log["segment"] = np.where(log.user_id.astype(int) % 3 == 0, "new", "loyal")
    if shuffle:   # customers' events out of time order in the file: the sorted pass
        log = log.sample(frac=1.0, random_state=seed)
    root = tmp_path_factory.mktemp("layouts")
    (root / "a").mkdir(), (root / "b").mkdir()
    standard, export = root / "a" / "events.csv", root / "b" / "events.csv"
    log.to_csv(standard, index=False, date_format="%Y-%m-%d %H:%M:%S")
    roles = ["user_id", "timestamp", "touchpoint", "value", "segment"]
    renamed = log.rename(columns=dict(zip(roles, names)))
    micros = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
    renamed[names[1]] = (log.timestamp - pd.Timestamp(0)) // pd.Timedelta(microseconds=micros)
    buy = log.touchpoint == "buy"
    renamed[names[2]] = renamed[names[2]].where(~buy, "")
    renamed["flag"] = np.where(buy, "Yes", "no") if flag == "bool" else np.where(buy, "order", "page")
    renamed["timestamp"] = "not a time"   # a column named like a standard one, but not the time column
    renamed = renamed[list(reversed(renamed.columns))]
    renamed.to_csv(export, index=False)
    layout = LogLayout(user=names[0], time=names[1], touchpoint=names[2], value=names[3],
                       segment=names[4] if segments else None, time_unit=unit, conversion="flag",
                       conversion_value=None if flag == "bool" else "order")
    for repeat in (False, True):
        # One thread: DuckDB's sums over several threads may add in another order from run to run.
        a = fit_events(standard, goals=["buy"], repeat=repeat, lookback=20_000, threads=1)
        b = fit_events(export, goals=["buy"], repeat=repeat, lookback=20_000, layout=layout, threads=1)
        assert dump_journey(a.journey) == dump_journey(b.journey)
        assert {**a.to_dict(), "source": ""} == {**b.to_dict(), "source": ""}
    assert attribute_file(standard, goals=["buy"]).to_dict() == \
        attribute_file(export, goals=["buy"], layout=layout).to_dict()


def test_a_column_read_in_two_roles_is_left_to_duckdb(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("u,t,event\n1,2025-01-01,ad\n1,2025-01-02,purchase\n2,2025-01-01,ad\n", encoding="utf-8")
    layout = LogLayout(user="u", time="t", touchpoint="event", conversion="event", conversion_value="purchase")
    fit = fit_events(path, goals=["sale"], layout=layout)
    assert _rows(fit) == {"ad": {"purchase": 0.5}, "purchase": {"sale": 1.0}} and not fit.method.startswith("one pass over the file")


def test_the_fast_reader_is_not_asked_about_conversions_of_a_standard_log(tmp_path, monkeypatch):
    """A standard log numbers (touchpoint, segment) pairs only: no conversion column, no flag per row."""
    path = tmp_path / "events.csv"
    _standard_log(3).to_csv(path, index=False)
    seen = []
    monkeypatch.setattr(fast_reader.CsvEvents, "_touchpoints", lambda self, *a: seen.append(1))
    fit_events(path, goals=["buy"])
    assert not seen
