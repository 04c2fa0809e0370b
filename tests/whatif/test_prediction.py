"""Predictions: exact collapse, batched solves, posterior draws, common random numbers, coverage, CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from journeysim.cli import main
from journeysim.engines.exact import solve_exact
from journeysim.errors import UsageError
from journeysim.journey import Journey
from journeysim.maps.read import load_journey
from journeysim.whatif._batch import exact_batch, posterior_journeys
from journeysim.whatif.hypothesis import load_hypothesis, read_hypothesis
from journeysim.whatif.prediction import PREDICTION_KEYS, predict

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "scenarios" / "online-store.yaml"

EVERY_CHANGE = [
    {"add": "live chat", "stage": "purchase", "channel": "chat", "from": {"cart": 0.15}, "to": {"purchase": 0.5}},
    {"set": {"from": "cart", "to": "purchase", "p": 0.65}},
    {"scale": {"from": "cart", "to": "exit", "by": 0.8}},
    {"entry": {"search ad": 0.7}, "segment": "regulars"},
    {"remove": "reviews"},
    {"touchpoint": {"name": "purchase", "value": 45}},
    {"set": {"from": "product page", "to": "newsletter", "p": 0.1}, "segment": "bargain hunters"},
]


def hypothesis_file(tmp_path: Path, changes, metric="conversion_rate") -> Path:
    path = tmp_path / "h.yaml"
    shutil.copy(STORE, tmp_path / STORE.name)        # a baseline must lie in the hypothesis's project
    path.write_text(yaml.safe_dump({"hypothesis": "t", "baseline": STORE.name, "metric": metric, "changes": changes},
                                   allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("metric", ["conversion_rate", "expected_conversions", "expected_value"])
def test_nothing_uncertain_collapses_to_the_exact_value(tmp_path, metric):
    h = load_hypothesis(hypothesis_file(tmp_path, EVERY_CHANGE, metric))
    p = predict(h, draws=50, rng=np.random.default_rng(0))
    base = getattr(solve_exact(load_journey(STORE)), metric)
    variant = getattr(solve_exact(h.variant()), metric)
    assert p.baseline == base and p.variant == variant
    assert p.baseline_interval == (base, base) and p.variant_interval == (variant, variant)
    assert p.lift_abs == variant - base and p.lift_abs_interval == (variant - base, variant - base)
    assert p.lift_rel == pytest.approx(variant / base - 1, rel=1e-12)
    assert p.prob_positive == float(variant > base)
    assert len(p.samples["lift_abs"]) == 50 and p.parameters == {}
    assert "nothing uncertain" in p.method


def test_remove_loses_entry_share_in_the_prediction(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"remove": "social post"}]))
    j = load_journey(STORE)
    p = predict(h, draws=1, rng=np.random.default_rng(0))
    # social post brought 40% of new customers; without it only search ad's 60% start (no renormalising)
    started = sum(s.share * solve_exact(j.for_segment(n).replace(entry={"search ad": 1.0})).conversion_rate
                  for n, s in j.segments.items())
    assert p.variant == pytest.approx(0.6 * started, rel=1e-12) and p.variant < p.baseline


@pytest.mark.parametrize("metric", ["conversion_rate", "expected_conversions", "expected_value"])
def test_batched_solve_matches_the_exact_engine(metric):
    h = load_hypothesis(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml")
    rng = np.random.default_rng(3)
    journeys = [h.variant({p: float(u.draw(1, rng=rng)[0]) for p, u in h.parameters.items()}) for _ in range(4)]
    batch = exact_batch(journeys, metric)
    for k, j in enumerate(journeys):
        m = solve_exact(j, removal_effects=False)
        assert batch["total"][k] == pytest.approx(getattr(m, metric), rel=1e-10)
        for stage, reach in m.stage_reach.items():
            assert batch["stages"][stage][k] == pytest.approx(reach, rel=1e-10, abs=1e-14)
        for seg in j.segments:
            assert batch["segments"][seg][k] == pytest.approx(getattr(solve_exact(j.for_segment(seg)), metric), rel=1e-10)


def test_posterior_rows_follow_the_dirichlet_posterior():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.3, "buy": 0.1}}, goals=["buy"], observations={"ad": 200})
    drawn = np.array([[x.rows["ad"]["page"].p, x.rows["ad"]["buy"].p]
                      for x in posterior_journeys(j, 4000, rng=np.random.default_rng(5))])
    alpha = np.array([0.3 * 200 + 0.5, 0.1 * 200 + 0.5, 0.6 * 200 + 0.5])
    mean = alpha[:2] / alpha.sum()
    var = mean * (1 - mean) / (alpha.sum() + 1)
    z = (drawn.mean(axis=0) - mean) / np.sqrt(var / len(drawn))
    assert np.all(np.abs(z) < 4.5)
    assert drawn.var(axis=0) == pytest.approx(var, rel=0.1)


def test_map_observations_widen_the_interval():
    h = load_hypothesis(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml")
    observed = h.baseline.replace(observations={"cart": 300, "product page": 1000})
    wide = predict(dataclasses.replace(h, baseline=observed), draws=400, rng=np.random.default_rng(1))
    narrow = predict(h, draws=400, rng=np.random.default_rng(1))
    width = lambda p: p.baseline_interval[1] - p.baseline_interval[0]  # noqa: E731
    assert width(narrow) == 0 and width(wide) > 0
    assert "Dirichlet" in wide.method


COVERAGE_HYPOTHESIS = {"hypothesis": "better page", "changes": [{"set": {"from": "page", "to": "buy", "p": [0.2, 0.4]}}]}


@pytest.mark.slow
def test_ninety_percent_intervals_cover_the_truth_ninety_percent_of_the_time():
    """Known truth: rows drawn from the prior, data simulated from them, the effect from the hypothesis's range."""
    rng = np.random.default_rng(2024)
    reference = read_hypothesis(COVERAGE_HYPOTHESIS, "h.yaml",
                                baseline=Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.5}},
                                                           goals=["buy"]))
    hits = 0
    for _ in range(1000):
        a, b0 = rng.beta(0.5, 0.5, size=2)            # the true map (the posterior's prior)
        b1 = rng.uniform(0.2, 0.4)                     # the true effect, from the hypothesis's own range
        n = 400
        reached = rng.binomial(n, a)                   # the observed log behind the fitted map
        bought = rng.binomial(reached, b0)
        fitted = Journey.from_rows({"ad": 1.0}, {"ad": {"page": reached / n},
                                                 "page": {"buy": bought / reached if reached else 0.0}},
                                   goals=["buy"], observations={"ad": n, "page": reached})
        p = predict(dataclasses.replace(reference, baseline=fitted), draws=200, rng=rng)
        hits += p.lift_abs_interval[0] <= a * (b1 - b0) <= p.lift_abs_interval[1]
    assert 0.87 <= hits / 1000 <= 0.93


def test_montecarlo_common_random_numbers_cancel_a_change_that_changes_nothing(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "cart", "channel": "mobile web"}}]))
    p = predict(h, engine="montecarlo", draws=6, size=2000, rng=np.random.default_rng(2))
    assert set(p.samples["lift_abs"]) == {0.0} and p.baseline_interval[1] > p.baseline_interval[0]


def test_montecarlo_agrees_with_exact(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"remove": "social post"}, {"set": {"from": "cart", "to": "purchase", "p": 0.7}}]))
    exact = predict(h, draws=1, rng=np.random.default_rng(0))
    mc = predict(h, engine="montecarlo", draws=12, size=20000, rng=np.random.default_rng(4))
    for key in ("baseline", "variant", "lift_abs"):
        x = np.array(mc.samples[key])
        z = (x.mean() - getattr(exact, key)) / (x.std(ddof=1) / np.sqrt(len(x)))
        assert abs(z) < 4.5, (key, z)
    assert "common random numbers" in mc.method


def test_cli_json_and_save(tmp_path, capsys):
    saved = tmp_path / "p.json"
    hyp = ROOT / "scenarios" / "hypotheses" / "live-chat.yaml"
    assert main(["predict", str(hyp), "--draws", "300", "--seed", "7", "--json", "--save", str(saved)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert tuple(out) == PREDICTION_KEYS and out["seed"] == 7 and out["draws"] == 300
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert {k: record[k] for k in PREDICTION_KEYS} == out
    assert record["format"] == "journeysim-prediction/1" and record["hypothesis_file"] == str(hyp)
    assert all(v.startswith("sha256:") for v in record["inputs"].values()) and len(record["inputs"]) == 2
    assert {k: len(v) for k, v in record["samples"].items()} == dict.fromkeys(["baseline", "variant", "lift_abs", "lift_rel"], 300)
    assert sorted(record["parameters"]) == ["changes[0].to.purchase", "changes[1].scale.by"]
    assert all(0.4 <= x <= 0.6 for x in record["parameters"]["changes[0].to.purchase"])
    # the same seed gives the same prediction
    assert main(["predict", str(hyp), "--draws", "300", "--seed", "7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == out


@pytest.mark.parametrize("args, code, message", [
    (["--draws", "0"], 2, "--draws '0': must be a whole number from 1 to 100_000"),
    (["--level", "1.5"], 2, "--level '1.5': must be a number in (0, 1)"),
    (["--seed", "x"], 2, "--seed 'x': must be a whole number >= 0"),
])
def test_cli_usage_errors(capsys, args, code, message):
    assert main(["predict", str(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml"), *args]) == code
    assert message in capsys.readouterr().err


def test_cli_bad_hypothesis_is_one_line(tmp_path, capsys):
    path = hypothesis_file(tmp_path, [{"set": {"from": "cart", "to": "purchse", "p": 0.5}}])
    assert main(["predict", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{path}: change 0 (set): unknown touchpoint 'purchse' (did you mean 'purchase'?)"


def test_summary_states_method_and_intervals():
    p = predict(ROOT / "scenarios" / "hypotheses" / "qr-kod-zlava.yaml", draws=200, rng=np.random.default_rng(1))
    text = str(p)
    assert "90% interval" in text and "method:" in text and "mladé rodiny" in text and "nákup" in text
    assert set(p.by_segment) == {"mladé rodiny", "seniori"} and 0 <= p.prob_positive <= 1


def test_agents_engine_agrees_with_exact():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.3}}, goals=["buy"],
                          extra={"arrivals": {"rate": 200, "per": "day"}})
    h = read_hypothesis({"changes": [{"set": {"from": "page", "to": "buy", "p": 0.4}}]}, "h.yaml", baseline=j)
    p = predict(h, engine="agents", draws=8, size=10, rng=np.random.default_rng(1))
    for key, exact in (("baseline", 0.15), ("variant", 0.2), ("lift_abs", 0.05)):
        x = np.array(p.samples[key])
        assert abs(x.mean() - exact) / (x.std(ddof=1) / np.sqrt(len(x))) < 4.5, key
    assert p.engine == "agents" and "agents engine (10 days)" in p.method


def test_hypothesis_path_says_when_the_file_changed_since_the_prediction(tmp_path):
    import dataclasses

    from journeysim._hash import file_sha256
    from journeysim.errors import ScenarioError
    from journeysim.whatif.prediction import hypothesis_path, read_prediction

    saved = read_prediction("experiments/live-chat.prediction.json")
    copy = tmp_path / "h.yaml"
    copy.write_text("hypothesis: x\n", encoding="utf-8")
    same = dataclasses.replace(saved, hypothesis_file=str(copy), inputs={str(copy): file_sha256(copy)})
    # the prediction lies in this repository, the copy in a tmp folder: outside its project but for within=None
    with pytest.raises(ScenarioError, match="is outside"):
        hypothesis_path(same)
    assert hypothesis_path(same, within=None) == (str(copy), False)
    copy.write_text("hypothesis: y\n", encoding="utf-8")
    assert hypothesis_path(same, within=None) == (str(copy), True)
    assert hypothesis_path(same, "other.yaml") == ("other.yaml", False)
    with pytest.raises(ScenarioError, match=r"names hypothesis gone.yaml: no such file \(name the hypothesis file with "
                                            r"--hypothesis\)"):
        hypothesis_path(dataclasses.replace(saved, hypothesis_file="gone.yaml"))


def test_one_draw_of_an_uncertain_hypothesis_is_refused_and_few_draws_are_said():
    hyp = ROOT / "scenarios" / "hypotheses" / "live-chat.yaml"     # two uncertain numbers
    with pytest.raises(UsageError, match=r"draws=1 gives no interval \(the hypothesis has uncertain numbers\): "
                                         r"give draws=20 or more"):
        predict(hyp, draws=1, rng=np.random.default_rng(0))
    few = predict(hyp, draws=19, rng=np.random.default_rng(0))
    assert "TOO FEW DRAWS: a 90% interval needs at least 20" in few.method and few.lift_rel_sd > 0
    assert "TOO FEW" not in predict(hyp, draws=20, rng=np.random.default_rng(0)).method
    assert "at least 40" in predict(hyp, draws=39, level=0.95, rng=np.random.default_rng(0)).method
