"""``journeysim fit`` and ``journeysim attribute`` on the command line: output files and the bad-input table."""

from __future__ import annotations

import json

import pytest

from journeysim import load_journey
from journeysim.cli import main

GOOD = "user_id,timestamp,touchpoint,value\n1,2025-01-01 10:00,ad,0\n1,2025-01-01 12:00,buy,20\n2,2025-01-02,ad,0\n"

BAD_INPUTS = [
    # (file name, content, extra args, expected fragment of the one-line error)
    ("log.csv", "user_id,touchpoint\n1,ad\n", [], "missing column 'timestamp'"),
    ("log.csv", "user_id,timestamp,touchpoint\n1,2025-01-01,ad\n2,yesterday,ad\n", ["--goal", "ad"],
     "row 2: timestamp 'yesterday' is not a date and time"),
    ("log.csv", GOOD, ["--goal", "purchase"], "goal 'purchase' never occurs"),
    ("log.csv", "user_id,timestamp,touchpoint\n1,2025-01-01,ad\n", [], "no goal"),
    ("log.csv", "user_id,timestamp,touchpoint,value\n1,2025-01-01,ad,-3\n", ["--goal", "ad"], "row 1: value -3 is negative"),
    ("log.csv", "user_id,timestamp,touchpoint,value\n1,2025-01-01,ad,lots\n", ["--goal", "ad"],
     "row 1: value 'lots' is not a number"),
    ("log.csv", "user_id,timestamp,touchpoint\n1,2025-01-01,\n", ["--goal", "ad"], "row 1: touchpoint is empty"),
    ("paths.csv", "path,total_conversions,total_null\na>b,1,2\nb,-4,1\n", [], "row 2: total_conversions -4 is negative"),
    ("paths.csv", "path,total_conversions,total_null\na>>b,1,2\n", [], "row 1: path 'a>>b' has an empty touchpoint"),
    ("paths.csv", "path,total_null\na>b,1\n", [], "missing column 'total_conversions'"),
    ("paths.csv", "path,total_conversions,total_null,total_conversion_value\nad,0,1,5\n page ,1,0,\n", [],
     "row 1: total_conversion_value 5 on a path with no conversions (total_conversions is 0)"),
    ("paths.csv", "path,total_conversions,total_null\n,1,2\n", [], "row 1: path is empty"),
    ("paths.csv", "path,total_conversions,total_null\na,,2\n", [], "row 1: total_conversions is empty"),
    ("missing.csv", None, [], "no such file"),
]


@pytest.mark.parametrize("command", ["fit", "attribute"])
@pytest.mark.parametrize("name, content, extra, expected", BAD_INPUTS)
def test_bad_input_is_one_line_exit_1_and_no_output(tmp_path, capsys, command, name, content, extra, expected):
    src = tmp_path / name
    if content is not None:
        src.write_text(content, encoding="utf-8")
    out = tmp_path / "map.yaml"
    args = [command, str(src), *extra] + (["-o", str(out)] if command == "fit" else [])
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and str(src) in err
    assert len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == ([src] if content is not None else [])


@pytest.mark.parametrize("args", [["--lookback", "30 days"], ["--threads", "0"]])
def test_fit_usage_errors_exit_2(tmp_path, capsys, args):
    src = tmp_path / "log.csv"
    src.write_text(GOOD, encoding="utf-8")
    assert main(["fit", str(src), "-o", str(tmp_path / "m.yaml"), *args]) == 2
    assert not (tmp_path / "m.yaml").exists()


@pytest.mark.parametrize("args", [["--order", "5"], ["--bootstrap", "-1"], ["--seed", "x"], ["--half-life", "0"]])
def test_attribute_usage_errors_exit_2(tmp_path, capsys, args):
    src = tmp_path / "log.csv"
    src.write_text(GOOD, encoding="utf-8")
    assert main(["attribute", str(src), *args]) == 2


def test_fit_writes_a_valid_map_and_reports(tmp_path, capsys):
    src = tmp_path / "log.csv"
    src.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "map.yaml"
    assert main(["fit", str(src), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["journeys"] == 2 and report["goals"] == ["buy"] and report["cut_by_lookback"] == 0
    journey = load_journey(out)
    assert journey.rows["ad"]["buy"].p == 0.5 and dict(journey.observations) == {"entry": 2.0, "ad": 2.0}
    assert main(["fit", str(src), "-o", str(out)]) == 0
    assert "journeys cut by the lookback window" in capsys.readouterr().out


def test_attribute_json_has_exactly_the_documented_keys(tmp_path, capsys):
    src = tmp_path / "paths.csv"
    src.write_text("path,total_conversions,total_null,total_conversion_value\na>b,2,2,20\nb,1,3,10\n", encoding="utf-8")
    assert main(["attribute", str(src), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    keys = {"models", "removal_effects", "removal_effects_value", "order", "goals", "goals_by_default", "dropped_events",
            "events_without_user", "first_row_without_user", "warnings", "notes", "method"}
    assert set(data) == keys and data["order"] == 1 and data["goals"] == [] and not data["warnings"]
    assert set(data["models"]) == {"markov", "first", "last", "linear", "time-decay", "position", "shapley",
                                   "shapley-rate"}
    assert data["models"]["last"] == {"a": {"conversions": 0.0, "value": 0.0}, "b": {"conversions": 3.0, "value": 30.0}}
    assert main(["attribute", str(src), "--json", "--model", "first", "--bootstrap", "20", "--seed", "1"]) == 0
    boot = json.loads(capsys.readouterr().out)
    assert set(boot) == keys | {"removal_effects_ci", "removal_effects_value_ci", "bootstrap"}
    assert set(boot["models"]["first"]["a"]) == {"conversions", "value", "conversions_ci", "value_ci"}
    assert boot["order"] == 1 and boot["removal_effects"] == {} and boot["removal_effects_value"] == {}


def test_a_log_with_a_touchpoint_named_entry_is_refused(tmp_path, capsys):
    # the fitted map's observations kept one 'entry': the touchpoint's 2 departures, not the 3 journeys started
    log = tmp_path / "log.csv"
    log.write_text("user_id,timestamp,touchpoint,value\n1,2026-01-01 10:00,entry,0\n1,2026-01-01 11:00,buy,5\n"
                   "2,2026-01-01 10:00,entry,0\n3,2026-01-01 10:00,ad,0\n", encoding="utf-8")
    assert main(["fit", str(log), "-o", str(tmp_path / "map.yaml"), "--goal", "buy"]) == 1
    assert "observations: 'entry' names both a touchpoint and the count of journeys started" in capsys.readouterr().err
    assert not (tmp_path / "map.yaml").exists()
