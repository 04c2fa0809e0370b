"""Per-edge checks from the arms' event logs: the mechanism, not only the headline."""

import json

import numpy as np
import pytest
from scipy import stats

from journeysim import load_journey, solve_exact
from journeysim.cli import main
from journeysim.engines.eventlog import simulate_event_log, write_event_log
from journeysim.experiments.design import design_experiment, sample_size
from journeysim.experiments.edges import (
    check_edges,
    edge_verdict,
    observed_edge,
    pooled_row,
)
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict, save_prediction
from tests.conftest import SCENARIOS

HYP = SCENARIOS / "hypotheses" / "live-chat.yaml"
TRUE = {"changes[0].to.purchase": 0.5, "changes[1].scale.by": 0.8}


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    """Logs of 20,000 customers per arm: control from the baseline, a variant where the change happened as
    predicted, and a 'variant' where nothing changed."""
    d = tmp_path_factory.mktemp("arms")
    hyp = load_hypothesis(HYP)
    prediction = predict(hyp, draws=300, rng=np.random.default_rng(1), seed=1)
    save_prediction(prediction, d / "p.json")
    for name, journey, seed in (("control", hyp.baseline, 2), ("variant", hyp.variant(TRUE), 3),
                                ("unchanged", hyp.baseline, 4)):
        write_event_log(simulate_event_log(journey, 20_000, rng=np.random.default_rng(seed)), d / f"{name}.csv")
    return d


def test_observed_edges_are_beta_marginals_of_the_dirichlet_posterior():
    p, (lo, hi) = observed_edge({"a": 30, "b": 20, "exit": 50}, "a", 0.9)
    assert p == 0.3
    assert (lo, hi) == pytest.approx(stats.beta.ppf([0.05, 0.95], 30.5, 70 + 2 * 0.5))
    # an outcome never observed: its own prior pseudo-count against every observed one
    _, (lo0, hi0) = observed_edge({"a": 30, "exit": 70}, "chat", 0.9)
    assert (lo0, hi0) == pytest.approx(stats.beta.ppf([0.05, 0.95], 0.5, 100 + 2 * 0.5))


def test_a_log_pooled_over_segments_sees_their_rows_weighted_by_visits():
    from journeysim.journey import Journey, Segment

    j = Journey.from_rows({"ad": 1.0}, {"ad": {"cart": 0.5}, "cart": {"buy": 0.6}}, goals=["buy"],
                          segments={"regulars": Segment("regulars", 0.7),
                                    "bargain": Segment("bargain", 0.3, rows={"ad": {"cart": _edge(0.2)},
                                                                            "cart": {"buy": _edge(0.3)}})})
    row = pooled_row(j, "cart")
    # by hand: (0.7 x 0.5 x 0.6 + 0.3 x 0.2 x 0.3) / (0.7 x 0.5 + 0.3 x 0.2)
    assert row["buy"] == pytest.approx(0.228 / 0.41) and row["exit"] == pytest.approx(1 - 0.228 / 0.41)


def _edge(p):
    from journeysim.journey import Edge

    return Edge(p)


def test_the_edges_that_changed_as_predicted_are_confirmed(arms):
    check = check_edges(_read(arms), arms / "control.csv", arms / "variant.csv", goals=["purchase"])
    assert check.edges["cart -> live chat"].verdict == "confirmed"
    assert check.edges["live chat -> purchase"].verdict == "confirmed"
    assert check.edges["cart -> exit"].verdict == "confirmed"
    assert check.edges["cart -> live chat"].control == 0.0


def test_edges_that_did_not_change_are_refuted_or_inconclusive(arms):
    check = check_edges(_read(arms), arms / "control.csv", arms / "unchanged.csv", goals=["purchase"])
    assert check.edges["cart -> live chat"].verdict == "refuted"
    assert check.edges["cart -> exit"].verdict == "refuted"
    assert {check.edges[k].verdict for k in check.edges if k.startswith("live chat")} == {"inconclusive"}


def test_the_edge_check_needs_far_fewer_customers_than_the_headline():
    # Live chat: the headline conversion rate moves from 4.84% to 5.79%, diluted by every customer who never
    # reaches the cart; the edited edge cart -> exit moves from 0.33 to about 0.14 among the customers who do
    # (8.6% of them): 8,781 customers per arm against about 940.
    hyp = load_hypothesis(HYP)
    base, var = solve_exact(hyp.baseline), solve_exact(hyp.variant())
    headline = design_experiment(base.conversion_rate, var.conversion_rate - base.conversion_rate).n_per_arm
    before, after = pooled_row(hyp.baseline, "cart")["exit"], pooled_row(hyp.variant(), "cart")["exit"]
    edge = sample_size(before, after) / base.visit_rate["cart"]
    ratio = headline / edge
    assert 6 < ratio < 15, f"the edge needs {edge:.0f} customers per arm, the headline {headline}: {ratio:.1f}x"


def test_a_verdict_needs_overlap_and_a_visible_change():
    assert edge_verdict((0.1, 0.2), None, 0.0) == "inconclusive"
    assert edge_verdict((0.1, 0.2), (0.21, 0.3), 0.0) == "refuted"
    assert edge_verdict((0.0, 0.2), (0.01, 0.05), 0.03) == "confirmed"     # the prediction allows no change


def _read(arms):
    from journeysim.whatif.prediction import read_prediction

    return read_prediction(arms / "p.json")


def test_cli_check_events_writes_edges_and_headline(arms, capsys):
    code = main(["check", str(arms / "p.json"), "--events", str(arms / "control.csv"), str(arms / "variant.csv"),
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"edges", "headline"}
    edge = out["edges"]["cart -> live chat"]
    assert set(edge) >= {"predicted", "control", "control_ci", "variant", "variant_ci", "verdict"}
    assert out["headline"]["verdict"] in {"confirmed", "too optimistic", "too pessimistic", "inconclusive"}


def test_cli_check_events_names_a_goal_neither_log_has(arms, capsys):
    # it said 'no conversions in variant or control: the relative lift is undefined', as if nobody had bought
    control, variant = arms / "control.csv", arms / "variant.csv"
    assert main(["check", str(arms / "p.json"), "--events", str(control), str(variant), "--goal", "purchse",
                 "--no-ledger"]) == 1
    assert capsys.readouterr().err.strip() == (f"{control} + {variant}: goal 'purchse' occurs in neither log "
                                               "(did you mean 'purchase'?)")


def test_cli_calibrate_events_revises_exactly_the_edited_rows(arms, tmp_path, capsys):
    out = tmp_path / "revised.yaml"
    assert main(["calibrate", str(arms / "p.json"), "--events", str(arms / "control.csv"),
                 str(arms / "variant.csv"), "-o", str(out), "--allow-outside"]) == 0   # its hypothesis is the bundled one
    revised, variant = load_journey(out), load_hypothesis(HYP).variant()
    changed = {a for a in variant.rows if {b: e.p for b, e in revised.rows.get(a, {}).items()}
               != {b: e.p for b, e in variant.rows[a].items()}}
    assert changed == {"cart", "live chat"}
    assert revised.rows["live chat"]["purchase"].p == pytest.approx(0.5, abs=0.05)


def test_cli_check_without_results_or_events_is_a_usage_error(arms, capsys):
    assert main(["check", str(arms / "p.json")]) == 2
    assert "RESULTS" in capsys.readouterr().err


def test_report_check_events_draws_the_edited_edges(arms, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "check", str(arms / "p.json"), "--events", str(arms / "control.csv"),
                 str(arms / "variant.csv"), "-o", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "cart -&gt; live chat" in page and "confirmed" in page and "The headline" in page
    import shutil

    if shutil.which("dot"):   # the picture needs Graphviz (CI installs it)
        assert (out / "edges.png").stat().st_size > 10_000


def test_dot_places_edge_labels():
    import shutil

    from journeysim.journey import Journey
    from journeysim.report.layout import dot_layout

    if not shutil.which("dot"):
        pytest.skip("Graphviz's dot is not installed")
    j = Journey.from_rows({"a": 1.0}, {"a": {"b": 0.5}}, goals=["b"])
    layout = dot_layout(j, {("a", "b"): 1.0}, {"a": "a", "b": "b"}, {("a", "b"): "pred 0.1-0.2   obs 0.15"})
    (x, _), (xa, _, _, _), (xb, _, _, _) = layout.edge_labels["a", "b"], layout.nodes["a"], layout.nodes["b"]
    assert xa < x < xb


def test_events_without_a_user_id_are_left_out_of_the_arms_and_said(arms, tmp_path, capsys):
    """An arm's log with anonymous events checks as the log without them, and the check names the log and the
    events it left out (check --events, calibrate --events, report check --events)."""
    clean = arms / "variant.csv"
    lines = clean.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    anonymous = ["," + row.split(",", 1)[1] for row in rows[:40]]   # 40 events, their user id blanked
    variant = tmp_path / "variant.csv"
    variant.write_text(header + "".join(rows[:10] + anonymous + rows[10:]), encoding="utf-8")
    warning = (f"{variant}: 40 events with an empty 'user_id' (the first in row 11) were left out: they belong to "
               "no customer")
    outputs = []
    for log in (clean, variant):
        assert main(["check", str(arms / "p.json"), "--events", str(arms / "control.csv"), str(log), "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[1]["warnings"] == [warning] and outputs[0]["warnings"] == []
    assert json.dumps({**outputs[1], "warnings": []}).replace(str(variant), str(clean)) == json.dumps(outputs[0])
    assert main(["check", str(arms / "p.json"), "--events", str(arms / "control.csv"), str(variant)]) == 0
    assert f"warning: {warning}" in " ".join(capsys.readouterr().out.split())   # wrapped to the terminal
    out = tmp_path / "revised.yaml"
    assert main(["calibrate", str(arms / "p.json"), "--events", str(arms / "control.csv"), str(variant), "-o",
                 str(out), "--allow-outside", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [warning]
    assert main(["report", "check", str(arms / "p.json"), "--events", str(arms / "control.csv"), str(variant),
                 "-o", str(tmp_path / "report")]) == 0
    assert "40 events with an empty" in (tmp_path / "report" / "report.html").read_text()
