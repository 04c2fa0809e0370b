"""Verdicts that say no more than the data: inconclusive, hand-drawn maps with a prior strength, segments."""

import dataclasses
import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests

from journeysim import Edge, Journey, UsageError, load_journey, save_journey
from journeysim.cli import main
from journeysim.engines.eventlog import simulate_event_log, write_event_log
from journeysim.errors import DataError
from journeysim.reevaluation import reevaluate, with_pseudo_counts
from journeysim.reevaluation.counts import posterior_draw
from tests.conftest import SCENARIOS
from tests.reevaluation.test_pair import fitted, store, with_row  # noqa: F401  (store is a fixture)


def reevaluated(paths, *options):
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        assert main(["reevaluate", *map(str, paths), "--json", "--draws", "40", *options]) == 0
    return json.loads(out.getvalue())


def test_inconclusive_on_a_small_log_still_works_on_a_large_one(store, tmp_path):
    # Two years drawn from the same map. 400 customers a year cannot pin how much the search ad matters (its
    # change interval is wider than 0.1); 40,000 can, and then it still works.
    rng = np.random.default_rng(3)
    verdicts = {}
    for n in (400, 40_000):
        paths = [tmp_path / f"{n}-{year}.csv" for year in (1, 2)]
        for path in paths:
            write_event_log(simulate_event_log(store, n, rng=rng), path)
        out = reevaluated(paths)
        verdicts[n] = {k: t["verdict"] for k, t in out["touchpoints"].items()}
        for t in out["touchpoints"].values():
            ci = t["removal_effect_change_ci"]
            if t["verdict"] == "inconclusive":
                assert ci[1] - ci[0] > 0.1 and (t["qvalue"] is None or t["qvalue"] > 0.05)
            if t["verdict"] == "still works":
                assert ci[1] - ci[0] <= 0.1
    for name in ("search ad", "social post", "reviews", "newsletter"):
        assert (verdicts[400][name], verdicts[40_000][name]) == ("inconclusive", "still works"), name
    assert verdicts[400]["purchase"] == verdicts[40_000]["purchase"] == "not assessed"   # a goal: no removal effect


def test_precision_sets_the_width_that_can_say_still_works(store):
    rng = np.random.default_rng(1)
    old, new = fitted(store, 3_000, rng), fitted(store, 3_000, rng)
    loose = reevaluate(old, new, rng=np.random.default_rng(2), draws=40, precision=0.5)
    strict = reevaluate(old, new, rng=np.random.default_rng(2), draws=40, precision=0.001)
    width = {n: c.removal_effect_change_ci[1] - c.removal_effect_change_ci[0] for n, c in strict.touchpoints.items()
             if c.removal_effect_change_ci is not None}
    for name, w in width.items():
        if strict.touchpoints[name].verdict in ("still works", "inconclusive"):
            assert strict.touchpoints[name].verdict == ("inconclusive" if w > 0.001 else "still works"), name
            assert loose.touchpoints[name].verdict == "still works", name
    assert any(c.verdict == "inconclusive" for c in strict.touchpoints.values())
    assert "inconclusive" in strict._headline()
    assert "inconclusive: no change detected" in strict.summary()
    assert strict.to_dict()["precision"] == 0.001
    with pytest.raises(UsageError, match="precision=0: must be a width > 0"):
        reevaluate(old, new, rng=rng, precision=0)


# -- hand-drawn maps -------------------------------------------------------------------------------------------


def test_pseudo_counts_are_a_dirichlet_centred_on_the_drawn_row():
    j = with_pseudo_counts(Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.3, "buy": 0.1}}, goals=["buy"]), 200)
    rng = np.random.default_rng(0)
    draws = np.array([[posterior_draw(j, rng, 0.0).rows["ad"][t].p for t in ("page", "buy")] for _ in range(4000)])
    # Dirichlet(200 p): mean p, variance p (1 - p) / 201.
    for k, p in enumerate((0.3, 0.1)):
        se = np.sqrt(p * (1 - p) / 201 / 4000)
        assert abs(draws[:, k].mean() - p) < 4.5 * se
        assert draws[:, k].var() == pytest.approx(p * (1 - p) / 201, rel=0.1)


def test_a_hand_drawn_map_against_a_log_of_itself_and_of_a_changed_map(store, tmp_path, capsys):
    drawn = tmp_path / "drawn.yaml"
    save_journey(store, drawn)
    rng = np.random.default_rng(5)
    same, changed = tmp_path / "same.csv", tmp_path / "changed.csv"
    write_event_log(simulate_event_log(store, 20_000, rng=rng), same)
    write_event_log(simulate_event_log(with_row(store, "cart", {"purchase": 0.35, "product page": 0.1}), 20_000,
                                       rng=rng), changed)
    # Without a prior strength the refusal says how to compare it.
    assert main(["reevaluate", str(drawn), str(same)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{drawn}: no observation counts") and "--prior-strength N" in err
    out = reevaluated([drawn, same], "--prior-strength", "500")
    assert all(t["qvalue"] is None or t["qvalue"] > 0.05 for t in out["touchpoints"].values())
    assert out["prior_strength"] == 500 and "hand-drawn maps" in out["method"]
    assert all(t["traffic_old"] is None for t in out["touchpoints"].values())     # nothing was observed
    assert out["conversion"]["customers_old"] == 500
    # The row's test is the chi-square of 500 pseudo-counts against the log's counts.
    fit = load_journey(drawn)
    out = reevaluated([drawn, changed], "--prior-strength", "500")
    cart = out["touchpoints"]["cart"]
    assert cart["qvalue"] < 1e-6 and cart["verdict"] in ("new drop-off point", "weakened")
    from journeysim.reevaluation import load_counted

    log = load_counted(str(changed), ["purchase"])
    outcomes = ["purchase", "product page", "exit"]
    old = [fit.rows["cart"].get(o, Edge(fit.exit_probability("cart"))).p * 500 for o in outcomes]
    new = [log.rows["cart"][o].p * log.observations["cart"] if o != "exit"
           else log.exit_probability("cart") * log.observations["cart"] for o in outcomes]
    assert cart["pvalue"] == pytest.approx(chi2_contingency([old, new], correction=False).pvalue, rel=1e-9)
    # Two fitted maps: the option would change nothing.
    assert main(["reevaluate", str(same), str(changed), "--prior-strength", "500"]) == 2
    assert "--prior-strength has no effect when every period carries observation counts" in capsys.readouterr().err


def test_library_refusal_names_the_prior_strength(store):
    with pytest.raises(DataError, match=r"new map: observations need 'entry'.*prior_strength=N"):
        reevaluate(fitted(store, 1000, np.random.default_rng(0)), store, rng=np.random.default_rng(0))
    with pytest.raises(UsageError, match="prior_strength=-3"):
        reevaluate(store, store, rng=np.random.default_rng(0), prior_strength=-3)
    # pseudo-counts of 1e160 overflowed the row tests' products of counts (scipy's ValueError)
    with pytest.raises(UsageError, match=r"prior_strength=1e\+160: must be a number of pseudo-counts > 0 and at most"):
        reevaluate(store, store, rng=np.random.default_rng(0), prior_strength=1e160)


def test_a_prior_strength_past_1e100_is_a_usage_error(store, tmp_path, capsys):
    drawn = tmp_path / "drawn.yaml"
    save_journey(store, drawn)
    assert main(["reevaluate", str(drawn), str(drawn), "--prior-strength", "1e160"]) == 2
    err = capsys.readouterr().err
    assert "--prior-strength '1e160': must be a number in (0, 1e+100)" in err and "Traceback" not in err


# -- segments ------------------------------------------------------------------------------------------------


def test_segments_are_judged_on_their_own_counts_with_one_fdr(tmp_path, capsys):
    # Bargain hunters buy less from the cart this year (0.4 -> 0.2); regulars do not change.
    shop = load_journey(SCENARIOS / "online-store.yaml")
    hunters = shop.segments["bargain hunters"]
    changed = shop.replace(segments={**shop.segments, "bargain hunters": dataclasses.replace(
        hunters, rows={"cart": {"purchase": Edge(0.2), "product page": Edge(0.2)}})})
    rng = np.random.default_rng(11)
    paths = [tmp_path / "old.csv", tmp_path / "new.csv"]
    for truth, path in zip((shop, changed), paths):
        write_event_log(simulate_event_log(truth, 15_000, rng=rng), path)
    out = reevaluated(paths, "--by-segment")
    assert set(out["segments"]) == {"bargain hunters", "regulars"}
    hunters, regulars = out["segments"]["bargain hunters"], out["segments"]["regulars"]
    assert hunters["touchpoints"]["cart"]["qvalue"] < 1e-6
    assert hunters["touchpoints"]["cart"]["verdict"] == "new drop-off point"
    assert regulars["touchpoints"]["cart"]["qvalue"] > 0.05
    assert hunters["conversion"]["new"] < hunters["conversion"]["old"]
    assert set(hunters) == {"touchpoints", "conversion", "ranking"}
    # One Benjamini-Hochberg correction over the pooled and the segments' row tests.
    tested = [(k, n, t["pvalue"]) for k, part in (("", out), *out["segments"].items())
              for n, t in part["touchpoints"].items() if t["pvalue"] is not None]
    q = multipletests([p for *_, p in tested], method="fdr_bh")[1]
    got = [(out if k == "" else out["segments"][k])["touchpoints"][n]["qvalue"] for k, n, _ in tested]
    assert got == pytest.approx(list(q), rel=1e-12)
    # Without --by-segment: pooled rows only, as before.
    plain = reevaluated(paths)
    assert plain["segments"] == {} and plain["touchpoints"]["cart"]["pvalue"] == out["touchpoints"]["cart"]["pvalue"]
    # Maps without segments cannot be compared by segment.
    save_journey(fitted(shop.replace(segments={}), 2000, rng), tmp_path / "a.yaml")
    assert main(["reevaluate", str(tmp_path / "a.yaml"), str(tmp_path / "a.yaml"), "--by-segment"]) == 2
    assert "--by-segment: no period has segments" in capsys.readouterr().err


def test_fit_writes_each_segments_counts_and_they_round_trip(tmp_path):
    from journeysim import fit

    shop = load_journey(SCENARIOS / "online-store.yaml")
    write_event_log(simulate_event_log(shop, 3_000, rng=np.random.default_rng(1)), tmp_path / "log.csv")
    j = fit(str(tmp_path / "log.csv"), goals=["purchase"], threads=1).journey
    assert set(j.segments) == {"bargain hunters", "regulars"}
    # Each segment's departures and journeys add up to the pooled ones.
    assert sum(s.observations["entry"] for s in j.segments.values()) == j.observations["entry"]
    assert sum(s.observations["cart"] for s in j.segments.values()) == j.observations["cart"]
    save_journey(j, tmp_path / "fitted.yaml")
    assert load_journey(tmp_path / "fitted.yaml").segments == j.segments


def test_a_segment_without_counts_is_refused_by_name(store):
    obs = {"entry": 100.0, **dict.fromkeys(store.names, 100.0)}
    shop = load_journey(SCENARIOS / "online-store.yaml").replace(observations=obs)
    with pytest.raises(DataError, match="old map: segment 'bargain hunters' has no observation counts"):
        reevaluate(shop, shop, rng=np.random.default_rng(0), by_segment=True)
