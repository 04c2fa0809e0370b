"""Group sequential designs: published boundaries, and simulated trials that reject at the planned level."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from journeysim.cli import main
from journeysim.errors import UsageError
from journeysim.experiments import Arm, ExperimentData, analyze_experiment
from journeysim.experiments.design import design_experiment
from journeysim.experiments.sequential import interim_look, plan_from_design, plan_looks

REF = json.loads((Path(__file__).parent / "reference" / "sequential.json").read_text())


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_boundaries_equal_the_published_tables(spending):
    plan = plan_looks(5, alpha=0.05, spending=spending)
    np.testing.assert_allclose(plan.z, REF[spending]["z"], atol=1e-3)
    assert plan.fractions == (0.2, 0.4, 0.6, 0.8, 1.0)


def _trials(plan, drift, n, seed):
    """Brownian motion with drift ``drift`` observed at the plan's looks: z statistics, shape (n, looks)."""
    t = np.asarray(plan.fractions)
    steps = np.diff(np.concatenate([[0.0], t]))
    rng = np.random.default_rng(seed)
    w = np.cumsum(rng.normal(drift * steps, np.sqrt(steps), size=(n, t.size)), axis=1)
    return w / np.sqrt(t)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_twenty_thousand_null_trials_reject_at_the_nominal_level(spending):
    plan = plan_looks(5, alpha=0.05, spending=spending)
    z = _trials(plan, 0.0, 20_000, seed=7)
    rejected = (np.abs(z) >= np.asarray(plan.z)).any(axis=1)
    se = np.sqrt(0.05 * 0.95 / z.shape[0])
    assert abs(rejected.mean() - 0.05) / se < 4


def test_the_maximum_size_keeps_the_planned_power_and_the_expected_size_is_smaller():
    plan = plan_looks(4, alpha=0.05, power=0.9)
    from scipy import stats

    drift = (stats.norm.isf(0.025) + stats.norm.isf(0.1)) * np.sqrt(plan.inflation)
    z = _trials(plan, drift, 40_000, seed=3)
    crossed = np.abs(z) >= np.asarray(plan.z)
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), plan.looks - 1)
    upper = crossed.any(axis=1) & (z[np.arange(len(z)), first] > 0)
    assert abs(upper.mean() - 0.9) / np.sqrt(0.9 * 0.1 / len(z)) < 4
    fraction = np.asarray(plan.fractions)[first]
    assert abs(fraction.mean() - plan.expected_fraction) / (fraction.std() / np.sqrt(len(z))) < 4
    assert plan.inflation > 1 and plan.expected_fraction < 1


def test_design_json_lists_the_looks_with_customers():
    d = design_experiment(0.05, 0.10, relative=True, looks=5, traffic_per_day=2000).to_dict()
    fixed = design_experiment(0.05, 0.10, relative=True).n_per_arm
    assert [round(x["z"], 3) for x in d["looks"]] == REF["obrien-fleming"]["z"]
    assert d["looks"][-1]["customers_per_arm"] == d["max_customers_per_arm"]
    assert fixed < d["max_customers_per_arm"] <= np.ceil(fixed * d["inflation"]) + 1
    assert d["expected_customers_per_arm"] < d["max_customers_per_arm"]
    assert [set(x) for x in d["looks"]] == [{"fraction", "z", "nominal_p", "customers_per_arm"}] * 5


def _ab(nc, xc, nv, xv):
    return analyze_experiment(ExperimentData("ab.csv", "aggregated", {"control": Arm("control", nc, xc),
                                                                      "chat": Arm("chat", nv, xv)}))


def test_an_interim_look_stops_only_past_its_boundary():
    strong = interim_look(_ab(10_000, 500, 10_000, 700), 2, 5)     # z about 6
    weak = interim_look(_ab(10_000, 500, 10_000, 560), 2, 5)       # z about 1.9
    assert strong.decisions == {"chat": "stop"} and weak.decisions == {"chat": "continue"}
    assert interim_look(_ab(10_000, 500, 10_000, 560), 5, 5).decisions == {"chat": "stop: no effect shown"}


def test_the_first_of_many_obrien_fleming_looks_spends_its_tiny_alpha():
    # a(0.05) = 2 - 2 Phi(10.02) rounded to 0: the first of 20 looks had the bisection's floor 37.05 as boundary
    plan = plan_looks(20)
    spent = 2 * stats.norm.sf(stats.norm.isf(0.0125) / math.sqrt(0.05))        # 1.2e-23
    assert plan.z[0] == pytest.approx(stats.norm.isf(spent), rel=1e-8)        # 9.955
    assert plan.nominal_p[0] == pytest.approx(2 * spent, rel=1e-6)
    assert list(plan.z) == sorted(plan.z, reverse=True)


@pytest.mark.parametrize("x", [0, 100])
def test_an_interim_look_without_variation_sees_no_difference(x):
    # nobody (or everybody) converted in either arm: the z-test is 0/0, and z = nan reached the JSON
    look = interim_look(_ab(100, x, 100, x), 2, 5)
    assert look.z == {"chat": 0.0} and look.decisions == {"chat": "continue"}
    json.dumps(look.to_dict(), allow_nan=False)


def test_bad_plans_are_one_line_errors():
    with pytest.raises(UsageError, match="looks=1 must be a whole number from 2 to 20"):
        plan_looks(1)
    with pytest.raises(UsageError, match="spending='linear'"):
        plan_looks(3, spending="linear")
    with pytest.raises(UsageError, match="--look 6 is not one of the plan's looks 1 to 5"):
        interim_look(_ab(100, 5, 100, 6), 6, 5)
    # power 0.5 at one-sided alpha 0.5: the drift's bracket [0, 0] raised brentq's ValueError
    with pytest.raises(UsageError, match="power=0.5 must exceed the false-positive rate"):
        plan_looks(4, alpha=0.5, power=0.5, two_sided=False)


def test_cli_design_then_analyze_a_look_with_the_design_file(tmp_path, capsys):
    assert main(["design", "--baseline", "0.05", "--lift", "0.1", "--relative", "--looks", "5", "--json"]) == 0
    design = tmp_path / "design.json"
    design.write_text(capsys.readouterr().out)
    assert plan_from_design(json.loads(design.read_text()), str(design)).z == plan_looks(5).z
    results = tmp_path / "ab.csv"
    results.write_text("variant,customers,conversions\ncontrol,13000,650\nchat,13000,800\n")
    assert main(["analyze", str(results), "--look", "2", "--design", str(design), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["look"]["decisions"] == {"chat": "stop"} and out["look"]["of"] == 5
    assert main(["analyze", str(results), "--look", "1", "--of", "5"]) == 0
    assert "continue" in capsys.readouterr().out
    assert main(["analyze", str(results), "--look", "1"]) == 2
    assert "--of" in capsys.readouterr().err
