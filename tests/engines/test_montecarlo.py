"""The Monte Carlo engine: agreement with the exact engine, exact cases, horizon, referrals, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from journeysim import Delay, Edge, Journey, Segment, load_journey, solve_exact
from journeysim.cli import main
from journeysim.engines.metrics import METRIC_KEYS
from journeysim.engines.montecarlo.alias import build_alias, draw
from journeysim.engines.montecarlo.engine import SAMPLE_KEYS, simulate_montecarlo
from journeysim.errors import UsageError
from journeysim.maps.read import read_journey
from tests.conftest import BUNDLED_MAPS
from tests.engines.montecarlo_agreement import LIMIT, replicates, z_scores

#: Both ways of simulating: compiled walks (the default) and vectorised numpy steps.
BACKENDS = ["numba", "numpy"]


def rng(seed=1):
    return np.random.default_rng(seed)


def fixed(mean):
    return Delay("fixed", mean)


# -- agreement with the exact engine -------------------------------------------------------------


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.stem)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bundled_maps_agree_with_exact_engine(path, backend):
    journey = load_journey(path)
    z = z_scores(journey, replicates(journey, seed=11, runs=24, customers=10_000, backend=backend))
    assert {"conversion_rate", "expected_touches", "expected_conversions", "expected_value",
            "expected_time_to_conversion", "referrals"} <= set(z)
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])


def test_agreement_check_detects_a_wrong_map(online_store):
    # The same test against a map whose purchase probability differs by 10% must fail.
    j = online_store
    runs = replicates(j, seed=3, runs=16, customers=10_000)
    cart = dict(j.rows["cart"])
    cart["purchase"] = Edge(cart["purchase"].p * 1.1)
    wrong = j.replace(rows={**j.rows, "cart": cart})
    assert max(abs(v) for v in z_scores(wrong, runs).values()) > LIMIT


# -- exact cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_map_gives_exact_counts_for_every_chunk_size(backend):
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 1.0}, "page": {"buy": 1.0}, "buy": {"buy again": 1.0}},
                          goals=["buy", "buy again"],
                          touchpoint_attributes={"buy": {"value": 10.0}, "buy again": {"value": 5.0}})
    for chunk in (1, 7, 1000):
        r = simulate_montecarlo(j, 1000, rng=rng(), chunk_size=chunk, backend=backend)
        assert (r.conversions, r.transitions, r.conversion_rate) == (1000, 4000, 1.0)
        assert (r.expected_conversions, r.expected_value, r.expected_touches) == (2.0, 15.0, 4.0)
        assert r.conversion_rate_ci[1] == pytest.approx(1.0) and r.conversion_rate_ci[0] > 0.99
        assert r.top_paths == ({"path": ["ad", "page", "buy", "buy again"], "complete": True, "count": 1000,
                                "conversion_rate": 1.0},)


def test_alias_draws_follow_row_probabilities():
    probs = np.array([0.3, 0.01, 0.2, 0.05, 0.0, 0.14, 0.1, 0.07, 0.03, 0.04, 0.06])
    table = build_alias([(list(range(20, 31)), probs), ([5], [1.0])])
    assert table.width == 16
    out = draw(table, np.zeros(400_000, dtype=np.intp), rng(5))
    counts = np.bincount(out - 20, minlength=11)
    assert counts[4] == 0
    keep = probs > 0
    assert stats.chisquare(counts[keep], probs[keep] * len(out)).pvalue > 1e-4
    assert set(draw(table, np.ones(100, dtype=np.intp), rng(5)).tolist()) == {5}


@pytest.mark.parametrize("delay, median", [
    (Delay("exponential", 2.0), 2.0 * math.log(2)),
    (Delay("lognormal", 2.0, 1.0), math.exp(Delay("lognormal", 2.0, 1.0).lognormal_params()[0])),
    (Delay("gamma", 2.0, 1.0), stats.gamma(4.0, scale=0.5).median()),
    (Delay("fixed", 2.0), 2.0),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_delay_distributions_have_their_mean_and_median(delay, median, backend):
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"delay": delay}})
    r = simulate_montecarlo(j, 100_000, rng=rng(2), backend=backend)
    sd = delay.sd if delay.sd is not None else (delay.mean if delay.dist == "exponential" else 0.0)
    assert abs(r.expected_time_to_conversion - 2.0) <= LIMIT * sd / math.sqrt(100_000) + 1e-9
    assert r.time_to_conversion["p50"] == pytest.approx(median, rel=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_edge_delay_replaces_the_touchpoint_delay(backend):
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": Edge(0.5, fixed(3.0)), "page": 0.5}, "page": {"buy": 1.0}},
                          goals=["buy"], touchpoint_attributes={"ad": {"delay": fixed(1.0)},
                                                                "page": {"delay": fixed(0.5)}})
    r = simulate_montecarlo(j, 20_000, rng=rng(3), backend=backend)
    # Direct: 3 days; via the page: 1 + 0.5 days.
    assert r.time_to_conversion["p10"] == pytest.approx(1.5)
    assert r.time_to_conversion["p90"] == pytest.approx(3.0)
    assert r.expected_time_to_conversion == pytest.approx(solve_exact(j).expected_time_to_conversion, abs=0.05)


# -- horizon ---------------------------------------------------------------------------------------


def _horizon_map():
    # ad (1 day) -> buy 40% | page 40% | exit 20%; page (1 day) -> buy.
    return Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.4, "page": 0.4}, "page": {"buy": 1.0}}, goals=["buy"],
                             touchpoint_attributes={"ad": {"delay": fixed(1.0)}, "page": {"delay": fixed(1.0)}})


@pytest.mark.parametrize("backend", BACKENDS)
def test_horizon_cuts_journeys_at_the_known_times(backend):
    j, n = _horizon_map(), 50_000
    early = simulate_montecarlo(j, n, rng=rng(4), horizon=0.5, backend=backend)
    assert early.conversions == 0 and early.outcomes == {"converted_and_exited": 0, "exited": 0, "travelling": n}
    mid = simulate_montecarlo(j, n, rng=rng(4), horizon=1.5, backend=backend)
    out = mid.outcomes
    assert sum(out.values()) == n and mid.conversions == out["converted_and_exited"]
    for key, p in (("converted_and_exited", 0.4), ("exited", 0.2), ("travelling", 0.4)):
        assert abs(out[key] / n - p) <= LIMIT * math.sqrt(p * (1 - p) / n)
    assert mid.time_to_conversion["p90"] == pytest.approx(1.0)
    late = simulate_montecarlo(j, n, rng=rng(4), horizon=2.5, backend=backend)
    assert late.outcomes["travelling"] == 0
    assert late.conversions == n - late.outcomes["exited"]
    assert abs(late.conversion_rate - 0.8) <= LIMIT * math.sqrt(0.16 / n)


def test_a_horizon_beyond_every_journey_changes_nothing():
    j = load_journey(BUNDLED_MAPS[0])
    plain = simulate_montecarlo(j, 20_000, rng=rng(5), removal_effects=False)
    cut = simulate_montecarlo(j, 20_000, rng=rng(5), removal_effects=False, horizon=1e9)
    assert cut.horizon == 1e9 and cut.outcomes["travelling"] == 0
    skip = {"horizon", "method"}
    assert {k: v for k, v in cut.to_dict().items() if k not in skip} == \
        {k: v for k, v in plain.to_dict().items() if k not in skip}


@pytest.mark.parametrize("backend", BACKENDS)
def test_customers_converted_before_the_horizon_stay_converted(backend):
    # buy then a long newsletter: converted customers are still travelling at the horizon.
    j = Journey.from_rows({"buy": 1.0}, {"buy": {"newsletter": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"delay": fixed(1.0)}, "newsletter": {"delay": fixed(30.0)}})
    r = simulate_montecarlo(j, 1000, rng=rng(), horizon=10.0, backend=backend)
    assert r.conversions == 1000 and r.outcomes["travelling"] == 1000 and r.conversion_rate == 1.0


# -- referrals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_referral_generations_follow_a_branching_process(backend):
    n, k = 20_000, 0.5
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"refers": k}})
    r = simulate_montecarlo(j, n, rng=rng(6), backend=backend)
    referred = r.referred
    # Per seed: the new customers and every generation they start, per new customer.
    assert r.referrals == pytest.approx(k) and r.customers_per_seed == pytest.approx(1 + referred["customers"] / n)
    # Total progeny of Poisson(k) offspring per customer: mean k/(1-k), variance k/(1-k)^3.
    assert abs(referred["customers"] - n * k / (1 - k)) <= LIMIT * math.sqrt(n * k / (1 - k) ** 3)
    assert referred["conversions"] == referred["customers"] and referred["generations"] > 3
    assert not referred["truncated"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_referred_customers_start_at_the_referrers_time(backend):
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"delay": fixed(1.0)}, "buy": {"refers": 1.0}})
    r = simulate_montecarlo(j, 5000, rng=rng(7), horizon=1.5, backend=backend)
    # Referred at t=1, they reach buy at t=2 > 1.5: they are still travelling, none converted.
    assert r.conversions == 5000 and r.referred["generations"] == 1 and r.referred["conversions"] == 0
    assert r.customers_per_seed is None     # K = 1: growth is unbounded
    longer = simulate_montecarlo(j, 5000, rng=rng(7), horizon=3.5, backend=backend)
    assert longer.referred["generations"] == 3 and longer.referred["conversions"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_more_referring_visits_than_customers_in_a_piece(backend):
    # Two referring visits per customer: the compiled kernel's referral buffer (one slot per
    # customer of the piece) overflows and the piece runs again with the same draws.
    n, k = 20_000, 0.2
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 1.0}, "page": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"refers": k}, "page": {"refers": k}})
    r = simulate_montecarlo(j, n, rng=rng(5), chunk_size=5000, backend=backend)
    assert r == simulate_montecarlo(j, n, rng=rng(5), chunk_size=5000, backend=backend)
    assert (r.customers, r.conversions, r.transitions) == (n, n, 3 * n)
    # Total progeny with K = 2k offspring per customer: mean K/(1-K), variance K/(1-K)^3.
    big_k = 2 * k
    assert abs(r.referred["customers"] - n * big_k / (1 - big_k)) <= LIMIT * math.sqrt(n * big_k / (1 - big_k) ** 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_explosive_referrals_are_truncated_not_endless(backend):
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"refers": 2.0}})
    r = simulate_montecarlo(j, 1000, rng=rng(8), backend=backend)
    assert r.customers_per_seed is None and r.referred["truncated"]
    assert r.referred["customers"] <= 10 * 1000
    assert json.loads(json.dumps(r.to_dict()))["customers_per_seed"] is None


# -- results ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_result_other_seed_other_result(online_store, backend):
    a = simulate_montecarlo(online_store, 30_000, rng=rng(9), seed=9, backend=backend)
    b = simulate_montecarlo(online_store, 30_000, rng=rng(9), seed=9, backend=backend)
    c = simulate_montecarlo(online_store, 30_000, rng=rng(10), seed=10, backend=backend)
    assert a == b and a.to_dict() == b.to_dict()
    assert a.conversions != c.conversions or a.transitions != c.transitions


def test_to_dict_keys_and_removal_effects_from_exact(online_store):
    r = simulate_montecarlo(online_store, 5000, rng=rng(), seed=1)
    d = r.to_dict()
    assert list(d) == [*METRIC_KEYS, *SAMPLE_KEYS, "method"]
    assert d["engine"] == "montecarlo" and d["seed"] == 1 and d["removal_effects_source"] == "exact engine"
    assert d["removal_effects"] == dict(solve_exact(online_store).removal_effects)
    assert set(d["time_to_conversion"]) == {"p10", "p50", "p90"}
    assert len(d["top_paths"]) == 10 and "exact engine" in d["method"]
    assert d["time_to_conversion"]["p10"] <= d["time_to_conversion"]["p50"] <= d["time_to_conversion"]["p90"]
    json.dumps(d)
    text = r.summary()
    assert "top paths" in text and "montecarlo engine" in text and str(r) == text


@pytest.mark.parametrize("kwargs", [
    {"customers": 0}, {"customers": -1}, {"customers": 2.5}, {"horizon": 0}, {"horizon": -3.0},
    {"horizon": math.inf}, {"chunk_size": 0}, {"rng": 42}, {"backend": "cuda"},
])
def test_bad_arguments_raise_usage_errors(online_store, kwargs):
    args = {"customers": 100, "rng": rng(), **kwargs}
    with pytest.raises(UsageError, match=next(iter(kwargs))):
        simulate_montecarlo(online_store, args.pop("customers"), **args)


# -- command line ----------------------------------------------------------------------------------


def test_cli_json(capsys):
    code = main(["simulate", str(BUNDLED_MAPS[0]), "--engine", "montecarlo", "--customers", "20000",
                 "--seed", "4", "--horizon", "30", "--chunk-size", "5000", "--json"])
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert list(d) == [*METRIC_KEYS, *SAMPLE_KEYS, "method"]
    assert (d["customers"], d["seed"], d["horizon"], d["engine"]) == (20000, 4, 30.0, "montecarlo")
    assert sum(d["outcomes"].values()) == 20000


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_backend_option_chooses_the_kernel_and_says_so(capsys, backend):
    args = ["simulate", str(BUNDLED_MAPS[0]), "--engine", "montecarlo", "--customers", "5000", "--seed", "4", "--json"]
    assert main([*args, "--backend", backend]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    default = json.loads(capsys.readouterr().out)
    assert (chosen == default) == (backend == "numba")
    assert ("numba" in chosen["method"]) == (backend == "numba") and ("numpy" in chosen["method"]) == (backend == "numpy")


def test_cli_without_seed_prints_the_seed_it_used(capsys):
    assert main(["simulate", str(BUNDLED_MAPS[0]), "--engine", "montecarlo", "--customers", "1e3"]) == 0
    captured = capsys.readouterr()
    seed = int(captured.err.split("using --seed ")[1])
    assert "│ seed " in captured.out and str(seed) in captured.out


@pytest.mark.parametrize("option", [
    ["--customers", "0"], ["--customers=-5"], ["--customers", "many"], ["--customers", "1.5"],
    ["--horizon", "0"], ["--horizon=-2"], ["--horizon", "soon"], ["--seed", "1.5"], ["--seed", "abc"],
    ["--seed=-1"], ["--chunk-size", "0"], ["--days", "3"],
])
def test_cli_bad_options_exit_2_with_one_line(capsys, option):
    assert main(["simulate", str(BUNDLED_MAPS[0]), "--engine", "montecarlo", *option]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("journeysim simulate: error: --")


@pytest.mark.parametrize("backend", BACKENDS)
def test_maps_wider_than_one_bitmask_word_agree_with_exact_engine(backend):
    # 150 touchpoints: the visited bitmask spans three 64-bit words.
    n = 150
    gen = np.random.default_rng(12)
    names = [f"t{i}" for i in range(n)]
    rows = {}
    for i in range(n - 1):
        targets = {names[i + 1]: 0.55, names[int(gen.integers(0, n))]: 0.2}
        rows[names[i]] = targets if len(targets) == 2 else {names[i + 1]: 0.75}
    goals = [names[70], names[140]]
    stages = {names[i]: {"stage": f"s{i // 40}"} for i in range(n)}
    j = Journey.from_rows({names[0]: 0.5, names[60]: 0.3, names[130]: 0.2}, rows, goals=goals,
                          touchpoint_attributes=stages)
    runs = replicates(j, seed=13, runs=12, customers=4000, backend=backend)
    assert runs[0].top_paths[0]["path"][0] in {names[0], names[60], names[130]}
    z = z_scores(j, runs)
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])


def test_progress_reports_customers_done(online_store):
    seen = []
    simulate_montecarlo(online_store, 200_000, rng=rng(), chunk_size=40_000, progress=seen.append,
                        removal_effects=False)
    assert seen == sorted(seen) and seen[-1] == 200_000 and len(seen) >= 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_segments_with_their_own_entry_and_rows_agree_with_exact_engine(backend):
    rows = {"ad": {"page": 0.5}, "mail": {"page": 0.2, "buy": 0.1}, "page": {"buy": 0.3, "ad": 0.1}}
    base = Journey.from_rows({"ad": 0.7, "mail": 0.3}, rows, goals=["buy"],
                             touchpoint_attributes={"buy": {"value": 25.0}, "page": {"delay": Delay("gamma", 2.0, 1.0)}})
    j = base.replace(segments={
        "loyal": Segment("loyal", 0.25, rows={"page": {"buy": Edge(0.7, Delay("exponential", 0.5))}},
                         entry={"mail": 1.0}),
        "new": Segment("new", 0.75)})
    z = z_scores(j, replicates(j, seed=21, runs=16, customers=5000, backend=backend))
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])
    # and the mixture really differs from either segment alone
    assert abs(solve_exact(j).conversion_rate - solve_exact(j.for_segment("new")).conversion_rate) > 0.015


@pytest.mark.parametrize("backend", BACKENDS)
def test_candidate_paths_counted_alike_by_table_and_by_binary_search(online_store, backend, monkeypatch):
    from journeysim.engines.montecarlo.tallies import PathCounter

    def run():
        return simulate_montecarlo(online_store, 200_000, rng=rng(14), chunk_size=20_000, removal_effects=False,
                                   backend=backend)
    table = run()
    monkeypatch.setattr(PathCounter, "_index_candidates", lambda self: setattr(self, "_lookup", None))
    assert run() == table
    assert sum(p["count"] for p in table.top_paths) > 100_000


# -- past the first purchase ---------------------------------------------------------------------


def routed_discounted(ad_sd=2.0):
    """Referred customers start elsewhere in a share-0 segment; lognormal, gamma and fixed delays; a discount."""
    return read_journey({
        "time_unit": "week", "discount": {"rate": 0.5, "per": "week"}, "stages": ["know", "buy", "refer"],
        "entry": {"ad": 1.0},
        "touchpoints": {
            "ad": {"stage": "know", "delay": {"dist": "lognormal", "mean": 1.0, "sd": ad_sd}},
            "call": {"stage": "know", "delay": {"dist": "fixed", "mean": 0.5}},
            "buy": {"stage": "buy", "goal": True, "value": 100, "delay": {"dist": "gamma", "mean": 2.0, "sd": 1.0}},
            "fan": {"stage": "refer", "delay": 1.0, "refers": {"k": 0.6, "entry": {"call": 1.0}, "segment": "referred"}},
            "news": {"stage": "refer", "refers": 0.3, "delay": {"dist": "lognormal", "mean": 4.0, "sd": 1.0}},
        },
        "transitions": {"ad": {"buy": 0.3, "news": 0.1}, "buy": {"fan": 0.5, "news": 0.3, "buy": 0.2},
                        "call": {"buy": 0.4}, "news": {"buy": 0.2}},
        "segments": {"organic": {"share": 1.0}, "referred": {"share": 0, "transitions": {"call": {"buy": 0.7}}}},
    })


@pytest.mark.parametrize("backend", BACKENDS)
def test_referral_routing_loyalty_and_discounting_agree_with_exact_engine(backend):
    j = routed_discounted()
    runs = replicates(j, seed=31, runs=16, customers=8000, backend=backend)
    z = z_scores(j, runs)
    assert {"value_per_seed_customer", "customers_per_seed", "discounted_value", "discounted_value_per_seed_customer",
            "repeat_rate", "bounce_rate", "funnel[refer]"} <= set(z)
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])
    assert all(r.referred["customers"] > 0 and not r.referred["truncated"] for r in runs)
    # The check has power: the same mean delay with a narrower lognormal discounts differently
    # (Laplace transform 0.679 instead of 0.753), and the agreement test says so.
    wrong = z_scores(routed_discounted(ad_sd=0.5), runs)
    assert abs(wrong["discounted_value"]) > LIMIT and abs(wrong["expected_value"]) <= LIMIT


def test_per_seed_metrics_are_null_when_generations_are_cut():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"refers": 2.0, "value": 5.0}})
    r = simulate_montecarlo(j, 1000, rng=rng(8))
    assert r.value_per_seed_customer is None and r.conversions_per_seed_customer is None
    assert r.warnings and "cut" in r.warnings[0]
    assert r.expected_value == pytest.approx(5.0) and r.removal_effects_value is None   # exact: unbounded too


def test_json_gains_the_loyalty_keys_in_order(online_store):
    new = ["value_per_seed_customer", "conversions_per_seed_customer", "repeat_rate", "bounce_rate", "funnel",
           "discounted_value", "discounted_value_per_seed_customer", "removal_effects_value"]
    assert list(METRIC_KEYS[-len(new):]) == new and METRIC_KEYS[-len(new) - 1] == "engine"
    r = simulate_montecarlo(online_store, 2000, rng=rng())
    keys = list(r.to_dict())
    assert keys[:len(METRIC_KEYS)] == list(METRIC_KEYS)
    assert list(solve_exact(online_store).to_dict()) == [*METRIC_KEYS, "method"]
