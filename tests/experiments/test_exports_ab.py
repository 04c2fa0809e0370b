"""A/B results as experiment platforms export them (issue 18): other column names, one row per day and arm (summed,
the rows counted), and ``analyze --by COLUMN``: each group, and the groups pooled by Cochran-Mantel-Haenszel with
the Breslow-Day test, checked against the formulas worked by hand."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from journeysim.cli import main
from journeysim.errors import DataError
from journeysim.experiments.analysis import analyze_experiment
from journeysim.experiments.results import read_results
from journeysim.experiments.strata import analyze_strata

DAILY = ("date,arm,users,orders\n"
         "2025-03-01,control,1000,50\n2025-03-01,B,1010,61\n"
         "2025-03-02,control,1500,90\n2025-03-02,B,1480,101\n"
         "2025-03-03,control,800,30\n2025-03-03,B,790,44\n")
DAILY_OPTIONS = ["--variant-column", "arm", "--customers-column", "users", "--conversions-column", "orders"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _analyze(capsys, path, *options):
    assert main(["analyze", str(path), *options, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_daily_export_is_summed_per_arm_and_says_so(tmp_path, capsys):
    daily = _analyze(capsys, _write(tmp_path, "daily.csv", DAILY), *DAILY_OPTIONS)
    frame = pd.read_csv(tmp_path / "daily.csv").groupby("arm", sort=False)[["users", "orders"]].sum()
    assert frame.to_dict("index") == {"control": {"users": 3300, "orders": 170}, "B": {"users": 3280, "orders": 206}}
    summed = _write(tmp_path, "summed.csv", "variant,customers,conversions\ncontrol,3300,170\nB,3280,206\n")
    assert daily["variants"] == _analyze(capsys, summed)["variants"]
    assert daily["rows_summed"] == {"control": 3, "B": 3}
    assert main(["analyze", str(tmp_path / "daily.csv"), *DAILY_OPTIONS]) == 0
    out = capsys.readouterr().out
    assert "rows summed per variant: control 3, B 3 (customers counted on several rows" in out
    assert "excluded customers" not in out      # an aggregated file names no customer to exclude


def test_a_per_arm_summary_with_other_column_names(tmp_path, capsys):
    path = _write(tmp_path, "summary.csv", "Group,Total_Users,Conversions\ncontrol,250255,12295\nlive chat,249745,12583\n")
    assert main(["analyze", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"{path}: missing column 'user_id' (columns: Group, Total_Users, Conversions); name yours with "
                   "--user-column; an aggregated file (one row per variant, or per variant and day) needs variant, "
                   "customers and conversions columns: name yours with --variant-column, --customers-column and "
                   "--conversions-column")
    renamed = _analyze(capsys, path, "--variant-column", "Group", "--customers-column", "Total_Users",
                       "--conversions-column", "Conversions")
    standard = _write(tmp_path, "standard.csv", "variant,customers,conversions\ncontrol,250255,12295\n"
                                                "live chat,249745,12583\n")
    assert renamed["variants"] == _analyze(capsys, standard)["variants"] and renamed["rows_summed"] == {
        "control": 1, "live chat": 1}


def test_aggregated_revenue_columns_can_be_named(tmp_path, capsys):
    path = _write(tmp_path, "rev.csv", "v,n,k,rev,rev2\ncontrol,100,10,500,9000\nB,100,12,600,11000\n")
    data = _analyze(capsys, path, "--variant-column", "v", "--customers-column", "n", "--conversions-column", "k",
                    "--revenue-sum-column", "rev", "--revenue-sumsq-column", "rev2")
    assert data["variants"]["B"]["revenue_mean"] == 6.0 and data["variants"]["B"]["revenue_diff"] == pytest.approx(1.0)
    assert main(["analyze", str(path), "--variant-column", "v", "--customers-column", "n", "--conversions-column",
                 "k", "--revenue-sum-column", "rev"]) == 1
    assert "column 'rev' needs column 'revenue_sumsq' too (--revenue-sumsq-column)" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("date,variant,customers,conversions\nMon,control,10,1\nMon,B,10,1\nMon,B,12,2\n",
     "line 4, column 'variant': variant 'B' with date 'Mon' appears on more than one row (also line 3): a row "
     "counted twice"),
    ("variant,customers,conversions\ncontrol,10,1\nB,10,1\nB,12,2\n",
     "line 4, column 'variant': variant 'B' appears on more than one row, and no other column (a date or a segment) "
     "tells its rows apart"),
    ("date,variant,customers,conversions\nMon,control,10,1\nMon,B,0,0\nTue,control,10,2\n",
     "line 3, column 'customers': variant 'B' has zero customers"),
    ("date,variant,customers,conversions\nMon,control,10,1\nMon,B,5,6\n",
     "line 3, column 'conversions': 6 conversions exceed 5 customers"),
])
def test_bad_daily_files_say_what_is_wrong(tmp_path, capsys, text, message):
    path = _write(tmp_path, "daily.csv", text)
    assert main(["analyze", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"{path}: {message}"


def _by_hand(tables: list[tuple[int, int, int, int]]) -> dict[str, float]:
    """Mantel-Haenszel, Cochran-Mantel-Haenszel and Breslow-Day from the 2x2 tables (a, b; c, d) = (variant
    converted, not; control converted, not), written out from their textbook formulas."""
    a, b, c, d = (np.array(x, float) for x in zip(*tables))
    n = a + b + c + d
    odds = np.sum(a * d / n) / np.sum(b * c / n)
    risk = np.sum(a * (c + d) / n) / np.sum(c * (a + b) / n)
    expected = (a + b) * (a + c) / n
    variance = (a + b) * (c + d) * (a + c) * (b + d) / (n ** 2 * (n - 1))
    cmh = np.sum(a - expected) ** 2 / np.sum(variance)
    breslow_day = 0.0
    for ak, row1, row0, col1 in zip(a, a + b, c + d, a + c):
        # the a of a table with these margins and odds ratio `odds`: a root of a quadratic, within the margins
        roots = np.roots([1 - odds, row0 - col1 + odds * (row1 + col1), -odds * row1 * col1])
        fitted = next(r.real for r in roots if max(0, col1 - row0) <= r.real <= min(row1, col1))
        var = 1 / (1 / fitted + 1 / (row1 - fitted) + 1 / (col1 - fitted) + 1 / (row0 - col1 + fitted))
        breslow_day += (ak - fitted) ** 2 / var
    return {"odds_ratio": odds, "lift_rel": risk - 1, "cmh_statistic": cmh, "cmh_pvalue": stats.chi2.sf(cmh, 1),
            "breslow_day_statistic": breslow_day, "breslow_day_pvalue": stats.chi2.sf(breslow_day, len(a) - 1)}


def test_by_day_pools_the_days_by_mantel_haenszel(tmp_path, capsys):
    data = _analyze(capsys, _write(tmp_path, "daily.csv", DAILY), *DAILY_OPTIONS, "--by", "date")
    pooled = data["pooled"]["B"]
    expected = _by_hand([(61, 949, 50, 950), (101, 1379, 90, 1410), (44, 746, 30, 770)])
    assert {k: pooled[k] for k in expected} == pytest.approx(expected, rel=1e-9)
    assert pooled["groups"] == 3 and pooled["cmh_pvalue_adj"] == pooled["cmh_pvalue"]
    assert list(data["groups"]) == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert data["groups"]["2025-03-02"]["variants"]["B"]["customers"] == 1480
    assert data["overall"]["variants"]["B"]["customers"] == 3280 and data["left_out"] == {}
    low, high = pooled["odds_ratio_ci"]
    assert low < pooled["odds_ratio"] < high


def test_a_day_without_conversions_is_left_out_of_breslow_day(tmp_path, capsys):
    # its term is 0/0: the test of equal odds ratios was None for every day together
    tables = [(0, 400, 0, 410), (61, 949, 50, 950), (44, 746, 20, 770), (101, 1379, 90, 1410)]
    text = "date,variant,customers,conversions\n" + "".join(
        f"d{i},B,{a + b},{a}\nd{i},control,{c + d},{c}\n" for i, (a, b, c, d) in enumerate(tables))
    pooled = _analyze(capsys, _write(tmp_path, "daily.csv", text), "--by", "date")["pooled"]["B"]
    expected = _by_hand(tables[1:])      # the empty day adds nothing to the Mantel-Haenszel sums either
    assert {k: pooled[k] for k in expected} == pytest.approx(expected, rel=1e-9)
    assert pooled["groups"] == 4


def test_tiny_pooled_p_values_are_not_rounded_to_zero(tmp_path, capsys):
    tables = [(700, 300, 500, 500), (650, 350, 480, 520)]
    text = "date,variant,customers,conversions\n" + "".join(
        f"d{i},B,{a + b},{a}\nd{i},control,{c + d},{c}\n" for i, (a, b, c, d) in enumerate(tables))
    pooled = _analyze(capsys, _write(tmp_path, "daily.csv", text), "--by", "date")["pooled"]["B"]
    expected = _by_hand(tables)
    assert 0 < pooled["cmh_pvalue"] < 1e-30
    assert pooled["cmh_pvalue"] == pytest.approx(expected["cmh_pvalue"], rel=1e-9)


def test_simpsons_paradox_is_said_loudly(tmp_path, capsys):
    """B converts better on both days, but most of its customers came on the weak day: summed, it looks worse."""
    path = _write(tmp_path, "daily.csv", "day,variant,customers,conversions\nMon,control,1000,300\nMon,B,200,64\n"
                                         "Tue,control,200,10\nTue,B,1000,60\n")
    assert main(["analyze", str(path), "--by", "day"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: summed over the groups, 'B' points the other way than within them (Simpson's paradox" in out
    result = analyze_strata(read_results(path, by="day"))
    assert result.overall.variants["B"].diff < 0 < np.log(result.pooled["B"].odds_ratio)


def test_an_effect_that_differs_between_groups_is_warned_about(tmp_path, capsys):
    path = _write(tmp_path, "seg.csv", "segment,variant,customers,conversions\nnew,control,2000,100\nnew,B,2000,200\n"
                                       "loyal,control,2000,300\nloyal,B,2000,240\n")
    data = _analyze(capsys, path, "--by", "segment")
    assert data["pooled"]["B"]["breslow_day_pvalue"] < 1e-6
    assert main(["analyze", str(path), "--by", "segment"]) == 0
    assert "WARNING: the effect of 'B' differs between the groups of segment (Breslow-Day p" in capsys.readouterr().out


def test_a_group_without_a_variant_is_left_out_and_said(tmp_path, capsys):
    path = _write(tmp_path, "daily.csv", DAILY + "2025-03-04,control,300,12\n")
    data = _analyze(capsys, path, *DAILY_OPTIONS, "--by", "date")
    assert data["left_out"] == {"2025-03-04": "no customers in 'B'"} and data["pooled"]["B"]["groups"] == 3
    assert data["overall"]["variants"]["control"]["customers"] == 3600
    one_day = _write(tmp_path, "one.csv", "date,variant,customers,conversions\nMon,control,10,1\nMon,B,10,2\n"
                                          "Tue,control,10,1\n")
    assert main(["analyze", str(one_day), "--by", "date"]) == 1
    assert capsys.readouterr().err.strip() == (f"{one_day}: --by date: 1 group(s) with customers in every variant; "
                                               "pooling needs two or more (2 groups in all)")


def test_by_segment_on_per_customer_rows(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n = 3000
    rows = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "variant": rng.choice(["control", "B"], n),
                         "segment": rng.choice(["new", "loyal"], n, p=[0.3, 0.7])})
    rows["converted"] = rng.random(n) < np.where(rows.segment == "new", 0.05, 0.15) * np.where(
        rows.variant == "B", 1.3, 1.0)
    path = tmp_path / "customers.csv"
    rows.to_csv(path, index=False)
    data = _analyze(capsys, path, "--by", "segment")
    counts = rows.groupby(["segment", "variant"]).converted.agg(["sum", "count"])
    tables = [(counts.loc[(s, "B"), "sum"], counts.loc[(s, "B"), "count"] - counts.loc[(s, "B"), "sum"],
               counts.loc[(s, "control"), "sum"], counts.loc[(s, "control"), "count"] - counts.loc[(s, "control"), "sum"])
              for s in data["groups"]]
    expected = _by_hand(tables)
    assert {k: data["pooled"]["B"][k] for k in expected} == pytest.approx(expected, rel=1e-9)
    moved = rows.copy()
    moved.loc[len(moved)] = {"user_id": "u0", "variant": rows.variant[0], "segment": "elsewhere", "converted": False}
    moved.to_csv(path, index=False)
    assert main(["analyze", str(path), "--by", "segment"]) == 1
    assert f"line {n + 2}, column 'segment': customer 'u0' is in group 'elsewhere' here and in" in \
        capsys.readouterr().err


@pytest.mark.parametrize("options, code, message", [
    (["--by", "week"], 1, "missing column 'week' (columns: date, arm, users, orders), which --by names"),
    (["--by", "date", "--look", "1", "--of", "3"], 2, "--look has no effect with --by"),
])
def test_by_misuse(tmp_path, capsys, options, code, message):
    assert main(["analyze", str(_write(tmp_path, "daily.csv", DAILY)), *DAILY_OPTIONS, *options]) == code
    assert message in capsys.readouterr().err


def test_the_stratified_result_is_a_frame_too(tmp_path):
    data = read_results(_write(tmp_path, "daily.csv", DAILY), variant_column="arm", customers_column="users",
                        conversions_column="orders", by="date")
    result = analyze_strata(data)
    frame = result.to_frame()
    assert len(frame) == 3 * 2 + 1 and frame.group.iloc[-1] == "(pooled)"
    assert result.overall.to_dict() == analyze_experiment(data).to_dict()
    with pytest.raises(DataError, match="missing column 'week'"):
        read_results(tmp_path / "daily.csv", variant_column="arm", customers_column="users",
                     conversions_column="orders", by="week")


def test_check_reads_a_daily_export_as_its_sums(tmp_path, capsys):
    from tests.conftest import ROOT

    prediction = str(ROOT / "experiments" / "live-chat.prediction.json")
    daily = _write(tmp_path, "daily.csv", "date,variant,customers,conversions\n"
                                          "Mon,control,125000,6100\nMon,live chat,124800,7100\n"
                                          "Tue,control,125255,6195\nTue,live chat,124945,7105\n")
    assert main(["check", prediction, str(daily), "--no-ledger", "--json"]) == 0
    daily_check = json.loads(capsys.readouterr().out)
    assert main(["check", prediction, str(ROOT / "experiments" / "live-chat.aggregated.csv"), "--no-ledger",
                 "--json"]) == 0
    summed_check = json.loads(capsys.readouterr().out)
    assert daily_check["observed_lift_rel"] == summed_check["observed_lift_rel"]


def test_the_bundled_exports_of_the_docs(capsys):
    """experiments/exports/ (docs/importing.md): the live-chat test as a dashboard summary and as a daily export."""
    from tests.conftest import ROOT

    exports = ROOT / "experiments" / "exports"
    reference = _analyze(capsys, ROOT / "experiments" / "live-chat.aggregated.csv")
    summary = _analyze(capsys, exports / "ab-summary.csv", "--variant-column", "Group", "--customers-column",
                       "Total_Users", "--conversions-column", "Conversions")
    daily_options = ["--variant-column", "experiment_group", "--customers-column", "users", "--conversions-column",
                     "orders"]
    daily = _analyze(capsys, exports / "ab-daily.csv", *daily_options)
    assert summary["variants"] == daily["variants"] == reference["variants"]
    assert daily["rows_summed"] == {"control": 7, "live chat": 7}
    pooled = _analyze(capsys, exports / "ab-daily.csv", *daily_options, "--by", "date")["pooled"]["live chat"]
    assert round(pooled["odds_ratio"], 4) == 1.1672 and pooled["cmh_pvalue"] == pytest.approx(2.335e-34, rel=1e-3)
    assert round(pooled["breslow_day_pvalue"], 4) == 0.1728


_COLUMN = st.text(st.sampled_from("abxyz_09ÄØé "), min_size=1, max_size=8).filter(lambda s: s.strip() == s)


def _cli_json(*args: str) -> str:
    """``journeysim analyze ... --json`` as printed (no pytest fixture: this runs inside a property test)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["analyze", *args, "--json"]) == 0
    return out.getvalue()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), names=st.lists(_COLUMN, min_size=5, max_size=5, unique=True),
       daily=st.booleans())
def test_renamed_ab_columns_and_their_options_give_identical_analyses(tmp_path_factory, seed, names, daily):
    """A per-customer and an aggregated result (one row per arm, or per arm and day), each under the documented
    names and under other names (in another order, beside an unrelated column named like a documented one) with the
    column options: byte-identical JSON, the file's name aside."""
    rng = np.random.default_rng(seed)
    n = 300
    people = pd.DataFrame({"user_id": rng.integers(0, 280, n).astype(str), "variant": rng.choice(["control", "B"], n),
                           "converted": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
                           "revenue": np.round(rng.exponential(30.0, n), 2), "pre_spend": rng.normal(50, 10, n)})
    people["revenue"] = np.where(people.converted == "yes", people.revenue, 0.0)
    arms = pd.DataFrame({"day": np.repeat(["Mon", "Tue"], 2), "variant": ["control", "B"] * 2})
    arms["customers"] = rng.integers(690, 710, 4)
    arms["conversions"] = rng.binomial(arms.customers, 0.1)
    arms["revenue_sum"] = arms.conversions * 31.5
    arms["revenue_sumsq"] = arms.conversions * 31.5 ** 2 * 1.5
    if not daily:
        arms = arms.iloc[:2].drop(columns="day")
    layouts = [
        (people, ["user_id", "variant", "converted", "revenue", "pre_spend"],
         ["--user-column", "--variant-column", "--converted-column", "--revenue-column", "--covariate-column"],
         ["--covariate-column", "pre_spend"]),
        (arms, ["variant", "customers", "conversions", "revenue_sum", "revenue_sumsq"],
         ["--variant-column", "--customers-column", "--conversions-column", "--revenue-sum-column",
          "--revenue-sumsq-column"], []),
    ]
    root = tmp_path_factory.mktemp("ab")
    for i, (frame, documented, flags, extra) in enumerate(layouts):
        standard, export = root / f"standard{i}.csv", root / f"export{i}.csv"
        frame.to_csv(standard, index=False)
        renamed = frame.rename(columns=dict(zip(documented, names)))
        if documented[0] not in names:
            renamed[documented[0]] = "not the column"   # named like a documented column, but not the one named
        renamed[list(reversed(renamed.columns))].to_csv(export, index=False)
        options = [x for flag, name in zip(flags, names) for x in (flag, name)]
        assert _cli_json(str(export), *options).replace(str(export), "FILE") == \
            _cli_json(str(standard), *extra).replace(str(standard), "FILE").replace(
                '"pre_spend"', json.dumps(names[4], ensure_ascii=False))
