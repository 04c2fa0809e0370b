"""Re-evaluation: changed rows flagged at the nominal false discovery rate, verdicts, JSON, CLI."""

import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.proportion import proportions_ztest

from journeysim import (
    DataError,
    Edge,
    Journey,
    UsageError,
    load_journey,
    save_journey,
    solve_exact,
)
from journeysim.cli import main
from journeysim.reevaluation import VERDICTS, reevaluate, row_tests

from tests.conftest import SCENARIOS

JSON_TOUCHPOINT_KEYS = {"verdict", "pvalue", "qvalue", "removal_effect_old", "removal_effect_new",
                        "removal_effect_change_ci", "traffic_old", "traffic_new"}


def fitted(truth: Journey, customers: int, rng) -> Journey:
    """What fitting a log of ``customers`` journeys gives: rows from multinomial counts, with the counts.

    Each row's departures are its expected visits; the outcomes are drawn from the true row.
    """
    visits = solve_exact(truth, removal_effects=False)
    expected = customers * _visits(truth)
    rows, observations = {}, {"entry": float(customers)}
    for i, name in enumerate(truth.names):
        n = int(round(expected[i]))
        row = truth.rows.get(name, {})
        targets = list(row)
        p = [row[t].p for t in targets] + [truth.exit_probability(name)]
        counts = rng.multinomial(n, np.clip(p, 0, None) / sum(p)) if n else np.zeros(len(p))
        observations[name] = float(n)
        if name in truth.rows:
            rows[name] = {t: Edge(float(c / n) if n else row[t].p, row[t].delay) for t, c in zip(targets, counts)}
    assert visits.conversion_rate > 0
    return truth.replace(rows=rows, observations=observations)


def _visits(journey: Journey) -> np.ndarray:
    from journeysim.engines.compiled import compile_journey

    chain = compile_journey(journey)
    return np.linalg.solve(np.eye(chain.n) - chain.Q.toarray().T, chain.entry)


@pytest.fixture(scope="module")
def store():
    return load_journey(SCENARIOS / "online-store.yaml").replace(segments={})


def with_row(journey: Journey, name: str, row: dict) -> Journey:
    return journey.replace(rows={**journey.rows, name: {k: Edge(v) for k, v in row.items()}})


def test_changed_row_is_flagged_and_the_others_are_not(store):
    rng = np.random.default_rng(2026)
    changed = with_row(store, "cart", {"purchase": 0.4, "product page": 0.1})    # drop-off 0.3 -> 0.5
    r = reevaluate(fitted(store, 20_000, rng), fitted(changed, 20_000, rng), rng=rng, draws=60)
    flagged = {n for n, c in r.touchpoints.items() if c.qvalue is not None and c.qvalue <= 0.05}
    assert flagged == {"cart"}
    cart = r.touchpoints["cart"]
    assert cart.verdict == "new drop-off point"
    assert r.ranking[0] == "cart"
    assert cart.dropoff_new - cart.dropoff_old == pytest.approx(0.2, abs=0.03)
    assert r.conversion_new < r.conversion_old and r.conversion_pvalue < 1e-6
    for name, c in r.touchpoints.items():
        assert c.verdict in VERDICTS
        if name != "cart" and c.qvalue is not None:
            if store.touchpoints[name].goal:      # no removal effect: an unchanged row says nothing more
                assert c.verdict == "not assessed", name
            else:
                assert c.verdict in ("still works", "inconclusive", "weakened", "strengthened"), name


def test_false_discovery_rate_within_nominal_level_over_seeds(store):
    # 300 repetitions, one true change (cart) among the tested rows: FDR = E[V / max(R, 1)] <= alpha.
    changed = with_row(store, "cart", {"purchase": 0.45, "product page": 0.1})
    fdp, any_null_flag, power = [], [], []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        base = fitted(store, 5_000, rng)
        tests = row_tests(base, fitted(changed, 5_000, rng))
        flagged = {n for n, (_, q) in tests.items() if q is not None and q <= 0.05}
        fdp.append(len(flagged - {"cart"}) / max(len(flagged), 1))
        power.append("cart" in flagged)
        null = row_tests(base, fitted(store, 5_000, rng))
        any_null_flag.append(any(q is not None and q <= 0.05 for _, q in null.values()))
    se = np.sqrt(0.05 * 0.95 / 300)
    assert np.mean(fdp) <= 0.05 + 2.5 * se
    assert np.mean(any_null_flag) <= 0.05 + 2.5 * se          # under the complete null FDR = FWER
    assert np.mean(any_null_flag) > 0.005                      # the tests are not simply inert
    assert np.mean(power) > 0.9


def test_pvalues_are_the_chi_square_of_the_count_table(store):
    old = store.replace(observations={**{n: 1000.0 for n in store.names}, "entry": 1000.0})
    new = with_row(old, "product page", {"cart": 0.3, "reviews": 0.1, "newsletter": 0.05})
    tests = row_tests(old, new)
    table = [[250, 150, 50, 550], [300, 100, 50, 550]]
    assert tests["product page"][0] == pytest.approx(chi2_contingency(table, correction=False).pvalue, rel=1e-12)
    assert tests["cart"] == (1.0, 1.0)
    assert tests["recommend"] == (None, None)          # all drop-off in both years: nothing to test
    r = reevaluate(old, new, rng=np.random.default_rng(0), draws=20)
    n = round(r.conversion_new * 1000), round(r.conversion_old * 1000)
    assert r.conversion_pvalue == pytest.approx(proportions_ztest(np.array(n), np.array([1000, 1000]))[1])


def small(rows, observations, goals=("buy",), entry=None):
    return Journey.from_rows(entry or {"ad": 1.0}, rows, goals=list(goals), observations=observations)


def test_verdicts_new_gone_and_no_longer_contributes():
    old = small({"ad": {"mail": 0.5, "buy": 0.1}, "mail": {"buy": 0.4}},
                {"entry": 5000, "ad": 5000, "mail": 2500})
    new = small({"ad": {"mail": 0.5, "chat": 0.2, "buy": 0.1}, "mail": {"buy": 0.0}, "chat": {"buy": 0.5}},
                {"entry": 5000, "ad": 5000, "mail": 2500, "chat": 1000})
    r = reevaluate(old, new, rng=np.random.default_rng(3), draws=60)
    assert r.touchpoints["chat"].verdict == "new"
    assert r.touchpoints["mail"].verdict == "no longer contributes"
    assert r.touchpoints["mail"].removal_effect_change_ci[1] < 0
    gone = reevaluate(new, old, rng=np.random.default_rng(3), draws=20)
    assert gone.touchpoints["chat"].verdict == "gone"
    assert gone.touchpoints["chat"].traffic_new is None and gone.touchpoints["chat"].traffic_old == 1000
    assert gone.touchpoints["mail"].verdict == "strengthened"


def test_removal_effect_interval_covers_the_true_change(store):
    rng = np.random.default_rng(2)
    changed = with_row(store, "reviews", {"product page": 0.1, "cart": 0.5})
    r = reevaluate(fitted(store, 40_000, rng), fitted(changed, 40_000, rng), rng=rng, draws=100)
    truth = solve_exact(changed).removal_effects["reviews"] - solve_exact(store).removal_effects["reviews"]
    lo, hi = r.touchpoints["reviews"].removal_effect_change_ci
    assert lo <= truth <= hi and lo > 0
    assert r.touchpoints["reviews"].verdict == "strengthened"


def test_maps_without_counts_and_bad_options_are_refused(store):
    with pytest.raises(DataError, match="old map: observations need 'entry'"):
        reevaluate(store, store, rng=np.random.default_rng(0))
    counted = store.replace(observations={"entry": 100.0})
    with pytest.raises(UsageError, match="draws=5: need an integer >= 10"):
        reevaluate(counted, counted, rng=np.random.default_rng(0), draws=5)
    with pytest.raises(UsageError, match="level=1.5"):
        reevaluate(counted, counted, rng=np.random.default_rng(0), level=1.5)


def test_cli_json_keys_and_text(store, tmp_path, capsys):
    rng = np.random.default_rng(5)
    save_journey(fitted(store, 10_000, rng), tmp_path / "old.yaml")
    save_journey(fitted(with_row(store, "cart", {"purchase": 0.4}), 10_000, rng), tmp_path / "new.yaml")
    assert main(["reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--json",
                 "--draws", "20", "--seed", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"touchpoints", "conversion"} <= set(out)
    assert set(out["conversion"]) >= {"old", "new", "pvalue"}
    assert set(out["touchpoints"]) == set(store.names)
    for entry in out["touchpoints"].values():
        assert JSON_TOUCHPOINT_KEYS <= set(entry)
    assert out["touchpoints"]["cart"]["verdict"] == "new drop-off point"
    assert main(["reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--draws", "20"]) == 0
    text = capsys.readouterr().out
    assert "what to look at first" in text and "new drop-off point" in text
    assert main(["reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--draws", "x"]) == 2
    assert "--draws 'x': must be a whole number from 10 to 100_000" in capsys.readouterr().err
    # Fewer than 10 draws give no interval: the option's own message, like every other bad --draws.
    assert main(["reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--draws", "5"]) == 2
    assert capsys.readouterr().err.strip() == "journeysim reevaluate: error: --draws '5': must be a whole number from 10 to 100_000"


def test_event_logs_from_maps_differing_in_one_row(store, tmp_path, capsys):
    from journeysim.engines.eventlog import simulate_event_log, write_event_log

    rng = np.random.default_rng(12)
    changed = with_row(store, "reviews", {"product page": 0.15, "cart": 0.4})
    for name, truth in (("old.csv", store), ("new.csv", changed)):
        write_event_log(simulate_event_log(truth, 12_000, rng=rng), tmp_path / name)
    assert main(["reevaluate", str(tmp_path / "old.csv"), str(tmp_path / "new.csv"), "--json", "--draws", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    flagged = {n for n, t in out["touchpoints"].items() if t["qvalue"] is not None and t["qvalue"] <= 0.05}
    assert flagged == {"reviews"}
    assert out["touchpoints"]["reviews"]["verdict"] == "strengthened"
    assert out["touchpoints"]["search ad"]["traffic_old"] == pytest.approx(0.6 * 12_000, rel=0.05)


def test_cli_names_the_file_without_counts(tmp_path, capsys):
    path = str(SCENARIOS / "online-store.yaml")
    assert main(["reevaluate", path, path]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: no observation counts") and len(err.strip().splitlines()) == 1


def test_a_touchpoint_after_the_purchase_is_judged_on_value():
    # Onboarding comes after the first purchase and leads to renewals: its removal effect on
    # conversion is 0, on value per seed 45/95. This year fewer onboarded customers renew (0.72, not 0.8):
    # judged on conversion it would "still work".
    obs = {"ad": 20_000, "buy": 10_000, "onboarding": 9_000, "renewal": 7_200, "entry": 20_000}
    rows = {"ad": {"buy": 0.5}, "buy": {"onboarding": 0.9}, "onboarding": {"renewal": 0.8}, "renewal": {"renewal": 0.6}}
    old = Journey.from_rows({"ad": 1.0}, rows, goals=["buy", "renewal"], observations=obs,
                            touchpoint_attributes={"buy": {"value": 100.0}, "renewal": {"value": 50.0}})
    new = old.replace(rows={**old.rows, "onboarding": {"renewal": Edge(0.72)}})
    r = reevaluate(old, new, rng=np.random.default_rng(3), draws=60)
    c = r.touchpoints["onboarding"]
    assert c.removal_effect_basis == "value per seed customer"
    assert c.removal_effect_old == pytest.approx(45 / 95) and c.removal_effect_new < c.removal_effect_old
    assert c.verdict == "weakened" and c.removal_effect_change_ci[1] < 0
    assert r.touchpoints["ad"].removal_effect_basis == "conversion"      # a tie: conversion
    assert r.to_dict()["touchpoints"]["onboarding"]["removal_effect_basis"] == "value per seed customer"
    assert "removal effect on" in r.summary() and "value" in r.summary()


def test_events_without_a_user_id_are_left_out_of_a_log_and_said(store, tmp_path, capsys):
    from journeysim.engines.eventlog import simulate_event_log, write_event_log

    rng = np.random.default_rng(13)
    for name in ("old.csv", "new.csv"):
        write_event_log(simulate_event_log(store, 2_000, rng=rng), tmp_path / name)
    (tmp_path / "anonymous").mkdir()
    lines = (tmp_path / "new.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    anonymous = tmp_path / "anonymous" / "new.csv"
    anonymous.write_text("".join(lines[:3] + ["," + row.split(",", 1)[1] for row in lines[1:6]] + lines[3:]),
                         encoding="utf-8")
    outputs = []
    for new in (tmp_path / "new.csv", anonymous):
        assert main(["reevaluate", str(tmp_path / "old.csv"), str(new), "--json", "--draws", "20"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[1]["warnings"] == [f"{anonymous}: 5 events with an empty 'user_id' (the first in row 3) were left "
                                      "out: they belong to no customer"]
    assert outputs[1]["touchpoints"] == outputs[0]["touchpoints"]
