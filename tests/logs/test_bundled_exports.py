"""The example exports of docs/importing.md (scenarios/exports/) read as the page shows, with the figures worked out
by hand from the files."""

from __future__ import annotations

import json

import pytest

from journeysim.cli import main
from tests.conftest import ROOT

EXPORTS = ROOT / "scenarios" / "exports"
GA4 = ["--user-column", "user_pseudo_id", "--time-column", "event_timestamp", "--time-unit", "us",
       "--touchpoint-column", "event_name", "--value-column", "purchase_revenue",
       "--touchpoints", str(EXPORTS / "ga4-touchpoints.yaml"), "--goal", "purchase"]
SEGMENT = ["--user-column", "anonymous_id", "--touchpoint-column", "event", "--value-column", "revenue",
           "--touchpoints", str(EXPORTS / "segment-touchpoints.csv"), "--goal", "purchase"]
MTA = ["--user-column", "cookie", "--time-column", "time", "--touchpoint-column", "channel",
       "--value-column", "conversion_value", "--conversion-column", "interaction=conversion"]


def _fit(tmp_path, capsys, name, options):
    assert main(["fit", str(EXPORTS / name), "-o", str(tmp_path / "map.yaml"), "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def _rows(fit) -> dict:
    """The fitted rows without drop-off, from the JSON's edges."""
    return {a: {e["to"]: e["p"] for e in fit["edges"] if e["from"] == a and e["to"] != "exit"}
            for a in {e["from"] for e in fit["edges"]}}


def test_the_ga4_example(tmp_path, capsys):
    fit = _fit(tmp_path, capsys, "ga4-events.csv", [*GA4, "--lookback", "30m"])
    # Six users; the second reads the blog, and a day later (past the 30-minute lookback) comes from the newsletter.
    assert (fit["events"], fit["journeys"], fit["cut_by_lookback"]) == (20, 7, 1)
    assert fit["dropped_events"] == {"session_start": 7, "scroll": 2}
    assert _rows(fit)["product page"] == {"cart": 4 / 6} and _rows(fit)["cart"] == {"purchase": 3 / 4}
    assert _rows(fit)["blog"] == {"product page": 0.5}
    assert fit["map"]["touchpoints"]["purchase"]["value"] == pytest.approx((89.90 + 45.00 + 89.90) / 3)
    assert fit["map"]["entry"] == {"search ad": 2 / 7, "blog": 2 / 7, "newsletter": 2 / 7, "home page": 1 / 7}


def test_the_segment_example(tmp_path, capsys):
    fit = _fit(tmp_path, capsys, "segment-tracks.csv", SEGMENT)
    assert (fit["events"], fit["journeys"]) == (17, 5) and fit["dropped_events"] == {"Application Opened": 1}
    assert _rows(fit)["product page"] == {"cart": 3 / 5} and _rows(fit)["cart"] == {"purchase": 2 / 3}
    assert _rows(fit)["home page"] == {"site search": 1.0} and _rows(fit)["newsletter"] == {"site search": 1.0}
    assert fit["map"]["touchpoints"]["purchase"]["value"] == pytest.approx((89.90 + 45.00) / 2)


def test_the_multi_touch_example(capsys):
    assert main(["attribute", str(EXPORTS / "mta-touches.csv"), *MTA, "--model", "first", "--model", "last",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # Journeys: FB > PS > OD (64.5), OV > FB, PS > PS (30), IG > OD > PS > PS (112), FB, IG > FB (25).
    assert data["goals"] == ["conversion"] and not data["goals_by_default"]
    first = {tp: (v["conversions"], v["value"]) for tp, v in data["models"]["first"].items()}
    last = {tp: (v["conversions"], v["value"]) for tp, v in data["models"]["last"].items()}
    assert first == {"Facebook": (1, 64.5), "Instagram": (2, 137), "Online Display": (0, 0), "Online Video": (0, 0),
                     "Paid Search": (1, 30)}
    assert last == {"Facebook": (1, 25), "Instagram": (0, 0), "Online Display": (1, 64.5), "Online Video": (0, 0),
                    "Paid Search": (2, 142)}
