"""Bad A/B result files and bad options: one clear line naming the file, row or column; exit 1 (usage: 2)."""

import pytest

from journeysim.cli import main

AGG = "variant,customers,conversions\n"
PER = "user_id,variant,converted\n"

BAD_FILES = [
    ("missing column", PER.replace(",converted", "") + "u1,control\nu2,B\n", [],
     "missing column 'converted'"),
    ("missing column, suggestion", "user_id,variant,convertd\nu1,control,1\nu2,B,0\n", [],
     "did you mean 'convertd'"),
    ("zero customers", AGG + "control,1000,50\nB,0,0\n", [], "line 3, column 'customers': variant 'B' has zero customers"),
    ("conversions > customers", AGG + "control,1000,50\nB,100,120\n", [],
     "line 3, column 'conversions': 120 conversions exceed 100 customers"),
    ("non-numeric count", AGG + "control,1000,50\nB,lots,12\n", [], "line 3, column 'customers': 'lots' is not a number"),
    ("fractional count", AGG + "control,1000.5,50\nB,100,12\n", [], "line 2, column 'customers': 1000.5 is not a whole number"),
    ("negative count", AGG + "control,1000,-5\nB,100,12\n", [], "line 2, column 'conversions': -5 is not a whole number"),
    ("non-boolean", PER + "u1,control,1\nu2,B,maybe\n", [], "line 3, column 'converted': 'maybe' is not a boolean"),
    ("non-numeric revenue", PER[:-1] + ",revenue\nu1,control,1,10\nu2,B,0,abc\n", [],
     "line 3, column 'revenue': 'abc' is not a number"),
    # its square overflowed: NaN tests and intervals with RuntimeWarnings
    ("revenue past 1e100", PER[:-1] + ",revenue\nu1,control,1,10\nu2,B,0,0\nu3,B,1,-2e200\n", [],
     "line 4, column 'revenue': '-2e200' is beyond +/-1e+100 (variances square the amounts"),
    ("covariate past 1e100", PER[:-1] + ",revenue,pre_spend\nu1,control,1,10,1e101\nu2,B,0,0,1\n", [],
     "line 2, column 'pre_spend': '1e101' is beyond +/-1e+100"),
    ("empty variant", PER + "u1,control,1\nu2,,0\n", [], "line 3, column 'variant': empty value"),
    ("unknown control", AGG + "control,1000,50\nB,1000,60\n", ["--control", "contrl"],
     "unknown control 'contrl' (did you mean 'control'?)"),
    ("no control named", AGG + "A,1000,50\nB,1000,60\n", [], "no variant named 'control'"),
    # the first spelling was taken as the control and the other compared with it as a variant
    ("two controls", AGG + "Control,1000,50\ncontrol,1000,55\nB,1000,60\n", [],
     "variants 'Control' and 'control' both read as the control; name the control arm with --control"),
    ("empty file", "", [], "empty file"),
    ("header only", AGG, [], "no data rows"),
    ("one variant", AGG + "control,1000,50\n", [], "only one variant"),
    ("duplicated variant row", AGG + "control,1000,50\nB,10,1\nB,10,1\n", [], "line 4, column 'variant': variant 'B' appears on more than one row"),
    ("everyone excluded", PER + "u1,control,1\nu1,B,0\nu2,control,0\n", [], "variant 'B' has zero customers left"),
    ("sumsq impossible", AGG[:-1] + ",revenue_sum,revenue_sumsq\ncontrol,10,5,100,10\nB,10,5,100,2000\n", [],
     "line 2, column 'revenue_sumsq'"),
    ("ragged CSV", AGG + "control,1000,50,7,8\nB,1000,60\n", [], "line 2: 5 fields, the header has 3"),
    ("blank lines keep line numbers", AGG + "control,1000,50\n\nB,1000,x\n", [], "line 4, column 'conversions'"),
]


@pytest.mark.parametrize("name,text,options,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_results_file(tmp_path, capsys, name, text, options, message):
    path = tmp_path / "ab test.csv"
    path.write_text(text, encoding="utf-8")
    code = main(["analyze", str(path), *options])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(str(path)), err
    assert message in err, err


def test_missing_file(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.csv")]) == 1
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'nope.csv'}: no such file"


@pytest.mark.parametrize("argv,message", [
    (["design", "--baseline", "1.5", "--lift", "0.1"], "baseline=1.5 must be between 0 and 1 (exclusive) "
                                                        "(a conversion rate; give sd for a value per customer)"),
    (["design", "--baseline", "-1", "--lift", "0.1"], "--baseline '-1': must be a number > 0"),
    (["design", "--baseline", "0.05"], "give the lift to detect"),
    (["design", "--baseline", "0.05", "--lift", "0"], "the lift is 0"),
    (["design", "--baseline", "0.05", "--lift", "0.1", "--traffic", "fast"], "--traffic 'fast'"),
    (["design", "--baseline", "0.05", "--lift", "0.96"], "is not a rate in (0, 1)"),
    (["design", "--baseline", "0.05", "--lift", "0.1", "--arms", "1"], "--arms '1': must be a whole number >= 2"),
])
def test_bad_design_options_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_bad_split_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "ab.csv"
    path.write_text(AGG + "control,1000,50\nB,1000,60\n")
    assert main(["analyze", str(path), "--expected-split", "50/30/20"]) == 2
    assert "3 shares but the results have 2 variants" in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    ("{}", "key 'format'"),
    ('{"format": "journeysim-prediction/1", "interval_level": 0.9, "baseline": 0.05, "variant": "x"}',
     "key 'variant': 'x' is not a finite number"),
    ("not json", "invalid JSON"),
])
def test_bad_prediction_file(tmp_path, capsys, content, message):
    pred = tmp_path / "p.json"
    pred.write_text(content)
    results = tmp_path / "ab.csv"
    results.write_text(AGG + "control,1000,50\nB,1000,60\n")
    assert main(["check", str(pred), str(results), "--no-ledger"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(str(pred)) and message in err and "\n" not in err


def test_a_parquet_value_is_shown_as_the_file_has_it(tmp_path, capsys):
    # numpy 2's repr leaked into the message: "np.int64(2) is not a boolean (0/1)"
    import pandas as pd

    path = tmp_path / "ab.parquet"
    pd.DataFrame({"user_id": [1, 2, 3, 4], "variant": ["control", "B", "control", "B"],
                  "converted": [1, 0, 1, 2]}).to_parquet(path)
    assert main(["analyze", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"{path}: row 4, column 'converted': 2 is not a boolean (0/1)"
