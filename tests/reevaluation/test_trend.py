"""More than two periods: the trend test against hand computation, its level and power over seeds, the CLI."""

import json

import numpy as np
import pytest
from scipy.stats import chi2

from journeysim import save_journey
from journeysim.cli import main
from journeysim.engines.eventlog import simulate_event_log, write_event_log
from journeysim.reevaluation import TREND_VERDICTS, reevaluate_periods, trend_test, trend_tests
from tests.reevaluation.test_pair import fitted, store, with_row  # noqa: F401  (store is a fixture)


def score_by_hand(table, scores):
    """The score statistic of a linear period-by-outcome association, from its definition: U = sum_t (n_tk - E_tk)
    (s_t - s_bar) for outcomes k >= 1, Var(U) = (c_k delta_kl - c_k c_l / N) * sum_t r_t (s_t - s_bar)^2 / N."""
    table = np.asarray(table, float)
    r, c, n = table.sum(1), table.sum(0), table.sum()
    s = np.asarray(scores, float) - np.average(scores, weights=r)
    expected = np.outer(r, c) / n
    u = ((table - expected) * s[:, None]).sum(0)[1:]
    spread = (r * s**2).sum() / n
    v = (np.diag(c[1:]) - np.outer(c[1:], c[1:]) / n) * spread
    stat = float(u @ np.linalg.solve(v, u))
    return stat, chi2.sf(stat, len(c) - 1)


def test_two_outcomes_give_the_cochran_armitage_test():
    # By hand: p = 125/300, T = sum x_t (t - 1) = 25, Var = p (1 - p) * 100 * 2 = 48.61: chi2 = 12.857 on 1 df.
    x, n = np.array([30, 40, 55]), 100
    p = x.sum() / 300
    stat = (x @ np.array([-1, 0, 1])) ** 2 / (p * (1 - p) * n * 2)
    assert stat == pytest.approx(12.857142857)
    assert trend_test(np.column_stack([x, n - x])) == pytest.approx(chi2.sf(stat, 1), rel=1e-9)


@pytest.mark.parametrize("table, scores", [
    ([[30, 70, 5, 6], [40, 60, 7, 8], [55, 45, 9, 10]], [0, 1, 2]),
    ([[120, 30, 50], [100, 35, 65], [90, 40, 70], [70, 60, 70]], [0, 1, 2, 3]),
    ([[12.5, 7.25, 0], [10, 9, 3.5], [0, 0, 0], [6, 11, 5]], [0, 1, 2, 3]),     # fractional counts, a missing period
])
def test_several_outcomes_give_the_score_statistic_of_its_definition(table, scores):
    table = np.asarray(table, float)
    seen = table.sum(1) > 0
    stat, p = score_by_hand(table[seen][:, table[seen].sum(0) > 0], np.asarray(scores, float)[seen])
    assert trend_test(table, scores) == pytest.approx(p, rel=1e-8)
    assert trend_test(table[::-1], scores) == pytest.approx(p, rel=1e-8)     # a trend either way


def test_equal_rows_have_no_trend_and_untestable_rows_none():
    assert trend_test([[30, 70], [30, 70], [30, 70]]) == pytest.approx(1.0)
    assert trend_test([[30, 0], [40, 0]]) is None            # one outcome
    assert trend_test([[30, 70], [0, 0], [0, 0]]) is None    # one period with counts


def drifting(store, k):
    """The store with a cart row drifting period by period: purchase 0.6, 0.52, 0.44 (and back to the product page
    0.1 throughout)."""
    return with_row(store, "cart", {"purchase": 0.6 - 0.08 * k, "product page": 0.1})


def test_trend_found_on_drifting_maps_and_within_the_level_on_stable_ones(store):
    # 200 repetitions of three periods of 5,000 customers (about 450 leave the cart each period). Under the complete null BH's FDR is the chance of any
    # flag: at most alpha; the drift of cart's row is found nearly every time, and only cart's.
    flags, found, others = [], [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        stable = trend_tests([fitted(store, 5_000, rng) for _ in range(3)])
        flags.append(any(q is not None and q <= 0.05 for _, q in stable.values()))
        moving = trend_tests([fitted(drifting(store, k), 5_000, rng) for k in range(3)])
        hits = {n for n, (_, q) in moving.items() if q is not None and q <= 0.05}
        found.append("cart" in hits)
        others.append(len(hits - {"cart"}) / max(len(hits), 1))
    se = np.sqrt(0.05 * 0.95 / 200)
    assert np.mean(flags) <= 0.05 + 2.5 * se
    assert np.mean(flags) > 0.0                 # the test is not simply inert
    assert np.mean(found) > 0.9
    assert np.mean(others) <= 0.05 + 2.5 * se


def test_periods_result_says_rising_falling_and_no_trend(store):
    rng = np.random.default_rng(4)
    years = [fitted(drifting(store, k), 40_000, rng).replace(name=f"year {k + 1}") for k in range(3)]
    r = reevaluate_periods(years, rng=rng, draws=20)
    assert r.periods == ("year 1", "year 2", "year 3") and len(r.pairs) == 2
    assert [p.old_name for p in r.pairs] == ["year 1", "year 2"]
    cart = r.trends["cart"]
    assert cart.qvalue < 1e-6 and cart.verdict == "changing"        # every conversion passes the cart: effect 1
    assert cart.dropoff[0] < cart.dropoff[1] < cart.dropoff[2]
    assert r.trends["search ad"].verdict == "no trend detected"
    assert all(t.verdict in TREND_VERDICTS for t in r.trends.values())
    assert r.conversion[0] > r.conversion[2] and r.conversion_trend_pvalue < 1e-6
    assert "trend over the periods" in r.summary()
    # The removal effect of reviews rises as its path to purchase grows (reviews -> cart 0.3, 0.4, 0.5).
    years = [fitted(with_row(store, "reviews", {"product page": 0.2, "cart": 0.3 + 0.1 * k}), 40_000, rng)
             for k in range(3)]
    reviews = reevaluate_periods(years, rng=rng, draws=20).trends["reviews"]
    assert reviews.verdict == "rising" and reviews.removal_effects[0] < reviews.removal_effects[2]


def test_three_logs_on_the_command_line(store, tmp_path, capsys):
    rng = np.random.default_rng(9)
    paths = []
    for k in range(3):
        truth = with_row(store, "reviews", {"product page": 0.2, "cart": 0.2 + 0.15 * k})
        paths.append(tmp_path / f"year-{k + 1}.csv")
        write_event_log(simulate_event_log(truth, 8_000, rng=rng), paths[-1])
    assert main(["reevaluate", *map(str, paths), "--json", "--draws", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"periods", "goals", "goals_by_default", "trends", "conversion", "pairs", "alpha",
                        "interval_level", "draws", "precision", "warnings", "method"}
    assert out["periods"] == ["year-1", "year-2", "year-3"]
    assert set(out["conversion"]) == {"rates", "customers", "trend_pvalue"}
    assert [(p["old"], p["new"]) for p in out["pairs"]] == [("year-1", "year-2"), ("year-2", "year-3")]
    reviews = out["trends"]["reviews"]
    assert reviews["verdict"] == "rising" and reviews["qvalue"] < 0.01 and len(reviews["removal_effects"]) == 3
    assert set(reviews) == {"verdict", "pvalue", "qvalue", "removal_effect_basis", "removal_effects", "dropoff",
                            "traffic"}
    assert out["trends"]["search ad"]["verdict"] == "no trend detected"
    assert main(["reevaluate", *map(str, paths), "--draws", "20"]) == 0
    text = capsys.readouterr().out
    assert "re-evaluation over 3 periods: year-1 -> year-2 -> year-3" in text and "rising" in text
    with pytest.raises(SystemExit) as done:                # one period: nothing to compare
        main(["reevaluate", str(paths[0])])
    assert done.value.code == 2 and "required: NEW" in capsys.readouterr().err
    out = tmp_path / "report"
    assert main(["reevaluate", *map(str, paths), "--draws", "20", "--report", str(out)]) == 0
    assert "Trends over the periods" in (out / "report.md").read_text(encoding="utf-8")


def test_a_map_among_the_periods_keeps_its_name(store, tmp_path, capsys):
    rng = np.random.default_rng(2)
    for k in range(3):
        save_journey(fitted(store, 3_000, rng).replace(name=f"y{k}"), tmp_path / f"{k}.yaml")
    assert main(["reevaluate", *(str(tmp_path / f"{k}.yaml") for k in range(3)), "--json", "--draws", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["periods"] == ["y0", "y1", "y2"]
    assert all(t["traffic"][0] is not None for t in out["trends"].values() if t["pvalue"] is not None)
