"""Exports on the command line (issue 18): the mapping options of fit and attribute, and no silent nonsense:
a fit whose goals leave no touch, or which has no transition, exits 1 with a message that says which option fixes
it; default goals are named; journeys that are almost all one touch are warned about; conversion-only path files."""

from __future__ import annotations

import json
import re

import pytest

from journeysim.cli import main

NAIVE = ("customer_id,time,channel,value\n"         # conversion_value renamed to value: every channel converts once
         "c1,2025-01-01,search,0\nc1,2025-01-02,email,0\nc1,2025-01-03,display,50\n"
         "c2,2025-01-01,email,0\nc2,2025-01-02,search,20\n"
         "c3,2025-01-01,display,0\nc3,2025-01-03,email,15\n")
MAPPED = ["--user-column", "customer_id", "--time-column", "time", "--touchpoint-column", "channel"]


def _run(tmp_path, capsys, command, content, *args, name="log.csv"):
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    out = tmp_path / "map.yaml"
    code = main([command, str(src), *args, *(["-o", str(out)] if command == "fit" else [])])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip(), src, out


@pytest.mark.parametrize("command", ["fit", "attribute"])
def test_every_touchpoint_a_default_goal_is_refused_with_the_goals_and_the_fix(tmp_path, capsys, command):
    code, _, err, src, out = _run(tmp_path, capsys, command, NAIVE, *MAPPED)
    assert code == 1 and not out.exists() and len(err.splitlines()) == 1
    assert err == (f"{src}: every touchpoint is a goal (goals: 'display', 'email', 'search' (taken by default: the "
                   "touchpoints whose events carry a positive value)), so no journey has a touch before its goal: if "
                   "'value' is the value of the touch that converted, flag the conversions with --conversion-column "
                   "COLUMN[=VALUE]; otherwise name the goals with --goal")


@pytest.mark.parametrize("command", ["fit", "attribute"])
def test_goals_named_to_cover_every_touchpoint_are_refused(tmp_path, capsys, command):
    code, _, err, src, _ = _run(tmp_path, capsys, command, NAIVE, *MAPPED, "--goal", "search", "--goal", "email",
                                "--goal", "display")
    assert code == 1 and err.startswith(f"{src}: every touchpoint is a goal (goals: 'search', 'email', 'display')")
    assert err.endswith("name only the goals with --goal")


def test_a_log_without_transitions_is_refused_saying_why(tmp_path, capsys):
    one_row_each = "user_id,timestamp,touchpoint,value\n1,2025-01-01,ad,0\n2,2025-01-01,mail,0\n3,2025-01-02,buy,5\n"
    code, _, err, src, out = _run(tmp_path, capsys, "fit", one_row_each)
    assert code == 1 and not out.exists()
    assert err == (f"{src}: no customer moved from one touchpoint to another (3 journeys of a single touch; goals: "
                   "'buy' (taken by default: the touchpoints whose events carry a positive value)): is 'user_id' the "
                   "customer id (name it with --user-column)? A log with one row per customer holds no journeys")
    spaced = "user_id,timestamp,touchpoint\n1,2025-01-01,ad\n1,2025-03-01,buy\n"
    code, _, err, src, _ = _run(tmp_path, capsys, "fit", spaced, "--goal", "buy", "--lookback", "30d")
    assert code == 1 and err.endswith("every next touch came after the lookback window (1 cut): lengthen --lookback")


def test_default_goals_are_named_in_the_summary_and_the_json(tmp_path, capsys):
    log = "user_id,timestamp,touchpoint,value\n1,2025-01-01,ad,0\n1,2025-01-02,buy,5\n2,2025-01-01,ad,0\n"
    code, out, _, _, _ = _run(tmp_path, capsys, "fit", log)
    assert code == 0 and re.search(r"goals +│ +buy \(by default: the touchpoints whose events carry", out)
    code, out, _, _, _ = _run(tmp_path, capsys, "fit", log, "--json")
    assert json.loads(out)["goals"] == ["buy"] and json.loads(out)["goals_by_default"] is True
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", log, "--json")
    assert json.loads(out)["goals"] == ["buy"] and json.loads(out)["goals_by_default"] is True
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", log, "--goal", "buy", "--json")
    assert json.loads(out)["goals_by_default"] is False
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", log)
    assert re.search(r"goals +│ +buy \(by default", out)


@pytest.mark.parametrize("moving, warned", [(4, "at least 96.0% of the 100 journeys are a single touch"), (6, None),
                                            (0, "every one of the 100 journeys is a single touch")])
def test_journeys_that_are_almost_all_a_single_touch_are_warned_about(tmp_path, capsys, moving, warned):
    """100 customers; ``moving`` of them go ad > mail (a move into a touch), the rest see one ad; 10 buy after it.
    Journeys with two touches or more are at most the moves into touches, so at least 100 - moving are single."""
    rows = [f"{u},2025-01-01,ad,0" for u in range(100)]
    rows += [f"{u},2025-01-02,mail,0" for u in range(moving)] + [f"{u},2025-01-03,buy,9" for u in range(90, 100)]
    code, out, _, _, _ = _run(tmp_path, capsys, "fit", "user_id,timestamp,touchpoint,value\n" + "\n".join(rows) + "\n",
                              "--json")
    warnings = json.loads(out)["warnings"]
    assert code == 0 and (warnings == [] if warned is None else warnings[0].startswith(warned))


@pytest.mark.parametrize("content, args, expected", [
    (NAIVE.replace("value", "interaction").replace(",0\n", ",view\n").replace(",50\n", ",view\n")
     .replace(",20\n", ",view\n").replace(",15\n", ",view\n"), ["--conversion-column", "interaction=Conversion"],
     "no conversions: no row's 'interaction' equals 'Conversion' (its values: 'view')"),
    (NAIVE.replace("value", "converted").replace(",50\n", ",maybe\n"), ["--conversion-column", "converted"],
     "row 3: converted 'maybe' is not a conversion flag (1/0, true/false, yes/no); if one value marks the "
     "conversions, name it: --conversion-column converted=VALUE"),
    (NAIVE, ["--conversion-column", "converted"], "missing column 'converted' (found customer_id, time, channel, "
     "value); it is named by --conversion-column"),
    (NAIVE, ["--value-column", "revenue"], "missing column 'revenue' (found customer_id, time, channel, value), "
     "named by --value-column"),
    (NAIVE.replace("2025-01-0", "173568960"), ["--conversion-column", "value"],
     "row 1: time '1735689601' is a number, not a date and time; if the column counts seconds, milliseconds or "
     "microseconds since 1970, say which with --time-unit s, ms or us (this one reads as seconds: --time-unit s)"),
    (NAIVE.replace("2025-01-0", "173568960"), ["--time-unit", "ms", "--goal", "display"],
     "column 'time' read as milliseconds since 1970 (--time-unit ms) runs from 1970-01-21 to 1970-01-21: are they "
     "seconds (--time-unit s)?"),
    (NAIVE, ["--time-unit", "s", "--goal", "display"],
     "row 1: time '2025-01-01' is not a number of seconds since 1970 (--time-unit s)"),
])
def test_a_bad_export_says_what_is_wrong_and_which_option_fixes_it(tmp_path, capsys, content, args, expected):
    for command in ("fit", "attribute"):
        code, _, err, src, out = _run(tmp_path, capsys, command, content, *MAPPED, *args)
        assert code == 1 and err == f"{src}: {expected}" and not out.exists()


def test_a_missing_column_names_the_option_that_maps_it(tmp_path, capsys):
    code, _, err, src, _ = _run(tmp_path, capsys, "fit", NAIVE)
    assert code == 1 and err == (
        f"{src}: missing column 'user_id' (did you mean 'customer_id'?) (found customer_id, time, channel, value); "
        "name yours with --user-column "
        "(an event log needs user_id, timestamp, touchpoint; a path file needs path, total_conversions)")
    code, _, err, src, _ = _run(tmp_path, capsys, "fit", NAIVE, "--user-column", "customer", "--time-column", "time")
    assert code == 1 and err == (f"{src}: missing column 'customer' (did you mean 'customer_id'?) (found customer_id, "
                                 "time, channel, value), named by --user-column")


def test_a_touchpoint_map_pattern_on_a_missing_column(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"         # not map.yaml, the fit's output: an output is never one of its inputs
    rules.write_text("search:\n  - {column: url, pattern: '*', touchpoint: ad}\n", encoding="utf-8")
    code, _, err, src, _ = _run(tmp_path, capsys, "fit", NAIVE, *MAPPED, "--touchpoints", str(rules))
    assert code == 1 and err == (f"{rules}: event 'search', rule 1: the pattern's column 'url' is not in {src} (found "
                                 "customer_id, time, channel, value)")


@pytest.mark.parametrize("args, expected", [
    (["--keep-unmapped"], "--keep-unmapped has no effect without --touchpoints (every event is kept)"),
    (["--conversion-column", "value", "--goal", "a", "--goal", "b"],
     "--goal: a log whose rows flag conversions has one goal, the conversion (got 'a', 'b')"),
    (["--conversion-column", "=yes"], "--conversion-column '=yes': name the column (COLUMN or COLUMN=VALUE)"),
    (["--conversion-column", "value="], "--conversion-column 'value=': give the value that marks a conversion"),
])
def test_log_option_misuse_is_a_usage_error(tmp_path, capsys, args, expected):
    for command in ("fit", "attribute"):
        code, _, err, _, out = _run(tmp_path, capsys, command, NAIVE, *MAPPED, *args)
        assert code == 2 and expected in err and not out.exists()


@pytest.mark.parametrize("command", ["fit", "attribute"])
def test_log_options_on_a_path_file_are_refused(tmp_path, capsys, command):
    code, _, err, src, _ = _run(tmp_path, capsys, command, "path,total_conversions,total_null\na>b,1,2\n",
                                "--user-column", "who", name="paths.csv")
    assert code == 2 and err.endswith(f"--user-column has no effect on {src}: it is a path file, whose paths are "
                                      "already cut and end at their conversion")


def test_reevaluate_refuses_log_options_for_two_maps(capsys):
    assert main(["reevaluate", "old.yaml", "new.yaml", "--time-unit", "s"]) == 2
    assert "--time-unit has no effect when OLD and NEW are both maps" in capsys.readouterr().err


CONVERSION_PATHS = "path,total_conversions,total_conversion_value\na > b,3,30\nb,1,5\n"


def test_a_conversion_only_path_file_attributes_with_a_warning_for_removal_effects(tmp_path, capsys):
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", CONVERSION_PATHS, "--model", "first", "--model", "last",
                              "--json", name="paths.csv")
    data = json.loads(out)
    assert code == 0 and data["warnings"] == []
    assert data["models"]["first"] == {"a": {"conversions": 3.0, "value": 30.0}, "b": {"conversions": 1.0, "value": 5.0}}
    assert data["models"]["last"] == {"a": {"conversions": 0.0, "value": 0.0}, "b": {"conversions": 4.0, "value": 35.0}}
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", CONVERSION_PATHS, "--model", "markov", "--json",
                              name="paths.csv")
    data = json.loads(out)
    # By hand: every journey converts; without a, only b's one path of four does (effect 3/4); without b, none.
    assert data["removal_effects"] == {"a": 0.75, "b": 1.0}
    assert data["models"]["markov"]["a"]["conversions"] == pytest.approx(4 * 0.75 / 1.75)
    assert data["warnings"] == ["the path file has no total_null column, so the markov model assumes that no "
                                "journey ended without converting (removal effects and conversion rates then only "
                                "tell how often a touchpoint is on a converting path); add total_null, the journeys "
                                "that did not convert"]
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", CONVERSION_PATHS, name="paths.csv")
    assert "warning: the path file has no total_null column, so the markov and shapley-rate models assume" in out


def test_fit_refuses_a_conversion_only_path_file(tmp_path, capsys):
    code, _, err, src, out = _run(tmp_path, capsys, "fit", CONVERSION_PATHS, name="paths.csv")
    assert code == 1 and not out.exists() and err == (
        f"{src}: no total_null column: a path file of converting journeys alone would fit a map in which every "
        "journey converts; add total_null (the journeys that did not convert) to fit a map (attribute reads the file "
        "as it is)")


def test_reevaluate_reads_both_logs_with_the_mapping_options(tmp_path, capsys):
    """The yearly comparison of two renamed exports is the comparison of the same logs under the standard names."""
    import numpy as np
    import pandas as pd

    def year(seed: int, directory: str, renamed: bool):
        rng = np.random.default_rng(seed)
        n = 600
        log = pd.DataFrame({"user_id": rng.integers(0, 120, n).astype(str),
                            "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) * 600, unit="s"),
                            "touchpoint": rng.choice(["ad", "mail", "page", "buy"], n, p=[0.35, 0.25, 0.25, 0.15])})
        log["value"] = np.where(log.touchpoint == "buy", 20.0, 0.0)
        if renamed:
            log = log.rename(columns={"user_id": "who", "timestamp": "when", "touchpoint": "what", "value": "paid"})
        path = tmp_path / directory / f"{seed}.csv"
        path.parent.mkdir(exist_ok=True)
        log.to_csv(path, index=False)
        return str(path)

    options = ["--goal", "buy", "--draws", "10", "--json"]
    assert main(["reevaluate", year(1, "a", False), year(2, "a", False), *options]) == 0
    standard = json.loads(capsys.readouterr().out)
    assert main(["reevaluate", year(1, "b", True), year(2, "b", True), *options, "--user-column", "who",
                 "--time-column", "when", "--touchpoint-column", "what", "--value-column", "paid"]) == 0
    assert json.loads(capsys.readouterr().out) == standard


def test_attribute_refuses_when_no_journey_with_a_touch_converts_naming_the_goals(tmp_path, capsys):
    log = "user_id,timestamp,touchpoint,value\n1,2025-01-01,ad,0\n2,2025-01-01,buy,5\n3,2025-01-01,mail,0\n"
    code, out, err, src, _ = _run(tmp_path, capsys, "attribute", log)
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err == (f"{src}: no journey with a touch before its goal converted (2 journeys with touches, none "
                   "converting; 1 conversion with no touch before the goal; goals: 'buy' (taken by default: the "
                   "touchpoints whose events carry a positive value)): there is nothing to attribute: if 'value' is the "
                   "value of the touch that converted, flag the conversions with --conversion-column COLUMN[=VALUE]")
    code, _, err, src, _ = _run(tmp_path, capsys, "attribute", log, "--goal", "buy")
    assert code == 1 and err.endswith("goals: 'buy'): there is nothing to attribute; name the goals with --goal")


def test_attribute_warns_when_default_goals_leave_most_conversions_without_a_touch(tmp_path, capsys):
    """A flag export renamed naively in which two channels never convert: the attribution rests on the few
    journeys that reach a default goal after a touch, and says so with the fix."""
    log = ("customer_id,time,channel,value\n"
           "c1,2025-01-01,search,0\nc1,2025-01-02,email,0\nc1,2025-01-03,display,50\n"
           "c2,2025-01-01,email,0\nc2,2025-01-02,search,20\n"
           "c3,2025-01-01,display,0\nc3,2025-01-03,social,0\n"
           "c4,2025-01-01,social,0\nc4,2025-01-02,display,30\n"
           "c5,2025-01-01,search,40\nc6,2025-01-01,display,10\nc7,2025-01-01,search,5\n")
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", log, *MAPPED, "--json")
    data = json.loads(out)
    # Goals by default: display and search. Journeys: c1 search | email > display; c2 email > search; c3 display |
    # social; c4 social > display; c5 search; c6 display; c7 search: 8 conversions, 3 after a touch, 5 direct.
    assert code == 0 and data["goals"] == ["display", "search"] and data["notes"] == []
    assert data["warnings"] == [
        "5 of the 8 conversions had no touch before the goal and take part in no model (goals: 'display', 'search' "
        "(taken by default: the touchpoints whose events carry a positive value)): if 'value' is the value of the "
        "touch that converted, flag the conversions with --conversion-column COLUMN[=VALUE] instead"]
    code, out, _, _, _ = _run(tmp_path, capsys, "attribute", log, *MAPPED, "--goal", "display", "--goal", "search",
                              "--json")
    assert json.loads(out)["warnings"] == [] and json.loads(out)["notes"] == [
        "5 conversions had no touch before the goal and take part in no model"]


def test_reevaluate_names_the_goals_and_repeats_the_fits_warnings(tmp_path, capsys):
    log = "user_id,timestamp,touchpoint,value\n" + "".join(f"{u},2025-01-01,ad,0\n" for u in range(40)) + \
        "".join(f"{u},2025-01-02,buy,9\n" for u in range(30, 40)) + "40,2025-01-01,ad,0\n40,2025-01-02,mail,0\n"
    for name in ("old.csv", "new.csv"):
        (tmp_path / name).write_text(log, encoding="utf-8")
    args = ["reevaluate", str(tmp_path / "old.csv"), str(tmp_path / "new.csv"), "--draws", "10"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["goals"] == ["buy"] and data["goals_by_default"] is True
    assert [w.split(": ", 1)[0] for w in data["warnings"]] == [str(tmp_path / "old.csv"), str(tmp_path / "new.csv")]
    assert all("journeys are a single touch" in w for w in data["warnings"])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"goals: buy \(by default: the touchpoints whose events carry a value", out)
    assert f"warning: {tmp_path / 'old.csv'}: at least" in out
    assert main([*args, "--goal", "buy", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["goals_by_default"] is False
