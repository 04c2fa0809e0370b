"""The shortcuts of a prediction give the numbers of the longer way they replace.

* the summaries: rows sorted instead of ``np.quantile``, a series whose draws all hold the same bits taken as is;
* nothing uncertain: a variant the exact engine cannot tell from the baseline takes the baseline's solve.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.whatif import prediction
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import _median, _quantile_rows, _quantiles, _same_for_exact, _summaries, predict

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "scenarios" / "online-store.yaml"
CHAT = ROOT / "scenarios" / "online-store-live-chat.yaml"


def numpy_summaries(series, level):
    """What the summaries were: one ``np.quantile`` over the series whose draws are all finite."""
    tail = (1.0 - level) / 2.0
    return [tuple(float(v) for v in np.quantile(x, [0.5, tail, 1.0 - tail])) if x.size and np.isfinite(x).all()
            else (_median(x), *_quantiles(x, level)) for x in series]


@settings(deadline=None, max_examples=200)
@given(st.integers(1, 60), st.integers(1, 5), st.floats(0.01, 0.99), st.integers(0, 2**32 - 1))
def test_sorted_rows_give_numpys_quantiles_bit_for_bit(n, rows, level, seed):
    rng = np.random.default_rng(seed)
    X = rng.choice([rng.normal(size=(rows, n)), rng.integers(-2, 3, size=(rows, n)).astype(float)])  # ties too
    tail = (1.0 - level) / 2.0
    q = (0.5, tail, 1.0 - tail)
    assert np.array_equal(_quantile_rows(X, q), np.quantile(X, q, axis=1))


@settings(deadline=None, max_examples=200)
@given(st.lists(st.sampled_from(["normal", "constant", "zeros of both signs", "with nan", "with inf", "nan"]),
                min_size=1, max_size=6),
       st.integers(1, 40), st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_summaries_are_numpys(kinds, n, level, seed):
    rng = np.random.default_rng(seed)
    series = []
    for kind in kinds:
        x = rng.normal(size=n)
        if kind == "constant":
            x = np.full(n, x[0])
        elif kind == "zeros of both signs":
            x = rng.choice([0.0, -0.0], size=n)
        elif kind == "with nan":
            x[0] = np.nan
        elif kind == "with inf":
            x[-1] = np.inf
        elif kind == "nan":
            x[:] = np.nan
        series.append(x)
    # equal numbers (the sign of a zero among zeros of both signs is the sort's pick, as it was the partition's)
    assert _summaries(series, level) == numpy_summaries(series, level)


def hypothesis_file(tmp_path: Path, baseline: Path, changes, metric="conversion_rate") -> Path:
    path = tmp_path / "h.yaml"
    shutil.copy(baseline, tmp_path / baseline.name)
    path.write_text(yaml.safe_dump({"hypothesis": "t", "baseline": baseline.name, "metric": metric,
                                    "changes": changes}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, same", [
    ({"touchpoint": {"name": "live chat", "capacity": 4}}, True),            # the agents engine's queue
    ({"touchpoint": {"name": "live chat", "patience": 5.0}}, True),
    ({"touchpoint": {"name": "live chat", "value": 1.0}}, False),
    ({"touchpoint": {"name": "live chat", "refers": 0.1}}, False),
    ({"touchpoint": {"name": "live chat", "stage": "purchase"}}, False),
    ({"touchpoint": {"name": "live chat", "delay": 2.0}}, False),
    ({"set": {"from": "cart", "to": "purchase", "p": 0.65}}, False),
    ({"scale": {"from": "live chat", "to": "exit", "by": 0.9}}, False),
])
def test_a_variant_takes_the_baseline_solve_only_when_the_exact_engine_reads_the_same(tmp_path, change, same):
    hyp = load_hypothesis(hypothesis_file(tmp_path, CHAT, [change]))
    variant = hyp.variant()
    assert _same_for_exact(variant, hyp.baseline) is same
    assert _same_for_exact(hyp.baseline, hyp.baseline.replace())       # equal, not the same objects


@pytest.mark.parametrize("metric", ["conversion_rate", "expected_value", "bounce_rate", "value_per_seed_customer"])
@pytest.mark.parametrize("change", [{"touchpoint": {"name": "live chat", "capacity": 4}},
                                    {"touchpoint": {"name": "live chat", "value": 1.0}}])
def test_nothing_uncertain_predicts_what_two_solves_did(tmp_path, monkeypatch, metric, change):
    hyp = load_hypothesis(hypothesis_file(tmp_path, CHAT, [change], metric))
    ours = predict(hyp, draws=30, rng=np.random.default_rng(0))
    monkeypatch.setattr(prediction, "_same_for_exact", lambda x, y: False)
    before = predict(hyp, draws=30, rng=np.random.default_rng(0))
    numbers = lambda p: {k: v for k, v in p.to_dict().items() if k != "method"}  # noqa: E731
    assert numbers(ours) == numbers(before)
    # the method says which way the numbers came: one solve for both, or one each
    assert ("one exact solve serves both" in ours.method) is ("capacity" in change["touchpoint"])
    assert "baseline and variant solved exactly once" in before.method
    for key in ("baseline", "variant", "lift_abs", "lift_rel"):
        assert np.array_equal(ours.samples[key], before.samples[key], equal_nan=True)
