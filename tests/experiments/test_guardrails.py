"""Guardrails: parsed from hypotheses, predicted, sized and tested for non-inferiority (hand-computed cases)."""

import json
import math
import re

import numpy as np
import pytest
import yaml
from scipy import stats

from journeysim import solve_exact
from journeysim.cli import main
from journeysim.errors import ScenarioError
from journeysim.experiments.guardrails import (
    check_guardrail,
    check_guardrails,
    guardrail_power,
)
from journeysim.experiments.results import Arm, ExperimentData
from journeysim.whatif.guardrails import Guardrail, parse_guardrails
from journeysim.whatif.hypothesis import read_hypothesis
from journeysim.whatif.prediction import predict
from tests.conftest import SCENARIOS

METRICS = ["conversion_rate", "bounce_rate", "expected_value", "expected_touches"]


@pytest.mark.parametrize("spec, message", [
    ({"metric": "bounce", "margin": 0.01}, "unknown metric 'bounce' (did you mean 'bounce_rate'?)"),
    ({"metric": "bounce_rate", "margin": -1}, "margin -1 must be a number >= 0"),
    ({"metric": "bounce_rate", "margin": 0.01, "limit": 2}, "unknown key 'limit'"),
    ({"metric": "expected_touches", "margin": 1}, "expected_touches has no direction of harm; say harm: up or harm: down"),
])
def test_bad_guardrails_are_one_line_errors_naming_the_file(spec, message):
    with pytest.raises(ScenarioError, match=re.escape(message)) as err:
        parse_guardrails([spec], "h.yaml", METRICS)
    assert str(err.value).startswith("h.yaml: guardrails[0]: ")


def _farrington_manning_z(xv, nv, xc, nc, margin):
    """(d - margin) / se, se from the restricted maximum likelihood rates of Miettinen and Nurminen's closed form
    (their cubic, with the linear coefficient of statsmodels issue #10269 corrected) times N / (N - 1)."""
    n, x = nv + nc, xv + xc
    l3, l2 = n, (nv + 2 * nc) * margin - n - x
    l1, l0 = (nc * margin - n - 2 * xc) * margin + x, xc * margin * (1 - margin)
    q = (l2 / (3 * l3)) ** 3 - l1 * l2 / (6 * l3 ** 2) + l0 / (2 * l3)
    p = math.copysign(math.sqrt((l2 / (3 * l3)) ** 2 - l1 / (3 * l3)), q)
    pc = 2 * p * math.cos((math.pi + math.acos(max(-1.0, min(1.0, q / p ** 3)))) / 3) - l2 / (3 * l3)
    pv = pc + margin
    var = (pv * (1 - pv) / nv + pc * (1 - pc) / nc) * n / (n - 1)
    return (xv / nv - xc / nc - margin) / math.sqrt(var)


@pytest.mark.parametrize("xc,nc,xv,nv,margin,harm", [
    (800, 20000, 830, 20000, 0.003, "up"), (0, 100, 0, 100, 0.003, "up"), (3, 50, 0, 80, 0.05, "up"),
    # statsmodels' score test gave p = 0.0441 here (its restricted rates solve a mistyped cubic) for 0.04995
    (30, 100, 20, 100, 0.2, "down"), (50, 1000, 45, 1000, 0.02, "down"),
])
def test_a_rate_guardrail_is_a_score_test_against_the_margin(xc, nc, xv, nv, margin, harm):
    t = check_guardrail(Guardrail("conversion_rate", margin, harm), Arm("control", nc, xc), Arm("chat", nv, xv))
    sign = 1 if harm == "up" else -1
    z = _farrington_manning_z(xv, nv, xc, nc, sign * margin)
    assert t.change == pytest.approx(xv / nv - xc / nc)
    holds = stats.norm.cdf(z) if harm == "up" else stats.norm.sf(z)
    assert t.pvalue_holds == pytest.approx(holds, rel=1e-9)
    assert t.pvalue_breached == pytest.approx(1 - holds, rel=1e-9)


@pytest.mark.parametrize("n", [1, 100])
def test_no_conversions_in_a_small_test_do_not_show_non_inferiority(n):
    # Wald's variance at the observed rates is 0 when nobody converts: 0 of 1 against 0 of 1 "held" with p = 0
    t = check_guardrail(Guardrail("conversion_rate", 0.005, "down"), Arm("c", n, 0), Arm("v", n, 0))
    assert t.verdict == "inconclusive" and t.pvalue_holds > 0.2
    assert check_guardrail(Guardrail("conversion_rate", 0.005, "down"), Arm("c", 10**6, 0),
                           Arm("v", 10**6, 0)).verdict == "holds"


def test_a_value_guardrail_without_spread_is_inconclusive_and_says_why():
    t = check_guardrail(Guardrail("expected_value", 0.5, "down"), Arm("c", 3, 0, revenue=np.full(3, 2.0)),
                        Arm("v", 3, 0, revenue=np.full(3, 2.0)))
    assert t.verdict == "inconclusive" and t.pvalue_holds is None and "no test" in t.method
    json.dumps(t.to_dict(), allow_nan=False)


def test_verdicts_hold_breach_or_stay_open():
    g = Guardrail("conversion_rate", 0.002, "down")
    assert check_guardrail(g, Arm("c", 100_000, 5000), Arm("v", 100_000, 5100)).verdict == "holds"
    assert check_guardrail(g, Arm("c", 100_000, 5000), Arm("v", 100_000, 4500)).verdict == "breached"
    assert check_guardrail(g, Arm("c", 1000, 50), Arm("v", 1000, 49)).verdict == "inconclusive"


def test_a_value_guardrail_is_welch_against_the_margin():
    rng = np.random.default_rng(3)
    control, variant = rng.gamma(2.0, 5.0, 4000), rng.gamma(2.0, 5.0, 4000) - 0.2
    g = Guardrail("expected_value", 0.5, "down")
    t = check_guardrail(g, Arm("c", 4000, 0, revenue=control), Arm("v", 4000, 0, revenue=variant))
    # harm down by at most 0.5: H0 is variant - control <= -0.5; shift the variant by the margin and test
    ref = stats.ttest_ind(variant + 0.5, control, equal_var=False, alternative="greater").pvalue
    assert t.pvalue_holds == pytest.approx(ref, rel=1e-9)


def test_the_power_of_a_non_inferiority_test_by_hand():
    # n = 30,000 per arm, no true change, harm down by 0.005 on a 5% rate: se = sqrt(2 p q / n)
    se = math.sqrt(2 * 0.05 * 0.95 / 30000)
    expected = stats.norm.cdf(0.005 / se - stats.norm.isf(0.05))
    assert guardrail_power(Guardrail("conversion_rate", 0.005, "down"), 0.05, 0.0, 30000) == pytest.approx(expected)
    assert guardrail_power(Guardrail("expected_value", 0.5, "down"), 10.0, 0.0, 30000) is None


def _hypothesis(guardrails, uncertain=True):
    data = yaml.safe_load((SCENARIOS / "hypotheses" / "live-chat.yaml").read_text())
    if not uncertain:
        data["changes"] = [{"scale": {"from": "cart", "to": "exit", "by": 0.8}}]
    data["guardrails"] = guardrails
    return read_hypothesis(data, str(SCENARIOS / "hypotheses" / "live-chat.yaml"), SCENARIOS / "hypotheses")


def test_predicted_guardrail_changes_equal_the_exact_engine_without_uncertainty():
    hyp = _hypothesis([{"metric": "expected_value", "margin": 0.1}, {"metric": "bounce_rate", "margin": 0.0}],
                      uncertain=False)
    p = predict(hyp, draws=50, rng=np.random.default_rng(1))
    base, var = solve_exact(hyp.baseline), solve_exact(hyp.variant())
    g = p.guardrails["expected_value"]
    assert g["change"] == pytest.approx(var.expected_value - base.expected_value, rel=1e-12)
    assert g["change_interval"] == pytest.approx([g["change"]] * 2)
    assert g["prob_harm_beyond_margin"] == 0.0 and p.guardrails["bounce_rate"]["change"] == 0.0


def test_cli_predict_design_check_carry_the_guardrails(tmp_path, capsys):
    hyp = tmp_path / "chat.yaml"
    data = yaml.safe_load((SCENARIOS / "hypotheses" / "live-chat.yaml").read_text())
    (tmp_path / "online-store.yaml").write_bytes((SCENARIOS / "online-store.yaml").read_bytes())
    data["baseline"] = "online-store.yaml"
    data["guardrails"] = [{"metric": "conversion_rate", "margin": 0.001}, {"metric": "bounce_rate", "margin": 0.002}]
    hyp.write_text(yaml.safe_dump(data))
    pred = tmp_path / "p.json"
    assert main(["predict", str(hyp), "--draws", "200", "--seed", "1", "--save", str(pred), "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["guardrails"]) == {"conversion_rate", "bounce_rate"}
    assert main(["design", str(pred), "--json"]) == 0
    design = json.loads(capsys.readouterr().out)
    assert 0 < design["guardrails"]["bounce_rate"]["power"] < 1
    assert main(["check", str(pred), str(SCENARIOS.parent / "experiments" / "live-chat.results.csv"), "--no-ledger",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["guardrails"]["live chat"]["conversion_rate"]["verdict"] in {"holds", "breached", "inconclusive"}
    assert "bounce_rate" in out["guardrails"]["not_tested"][0]


def test_cli_analyze_guardrail_json_and_refusals(capsys):
    results = str(SCENARIOS.parent / "experiments" / "live-chat.aggregated.csv")       # 250,000 customers an arm
    assert main(["analyze", results, "--guardrail", "conversion_rate=0.003", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["guardrails"]["live chat"]["conversion_rate"]["verdict"] == "holds"
    assert main(["analyze", results, "--guardrail", "bounce_rate=0.01"]) == 2
    assert "not observable" in capsys.readouterr().err
    # a malformed option is a usage error (exit 2), as an unobservable one is; they exited 1, as bad files do
    assert main(["analyze", results, "--guardrail", "conversion_rate"]) == 2
    assert "journeysim analyze: error: --guardrail 'conversion_rate': write METRIC=MARGIN" in capsys.readouterr().err
    assert main(["analyze", results, "--guardrail", "conversion_rat=0.003"]) == 2
    assert "unknown metric 'conversion_rat' (did you mean 'conversion_rate'?)" in capsys.readouterr().err


def test_check_guardrails_on_every_variant():
    ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 50_000, 2500),
                                                 "a": Arm("a", 50_000, 2490), "b": Arm("b", 50_000, 2200)})
    r = check_guardrails(ab, [Guardrail("conversion_rate", 0.003, "down")], control="control")
    assert [r.tests[v][0].verdict for v in ("a", "b")] == ["holds", "breached"]
    assert list(r.to_frame().columns)[:2] == ["variant", "metric"]
