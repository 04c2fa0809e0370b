"""An agent run in which no customer arrives: its rates per customer are undefined (None), never 0."""

from __future__ import annotations

import json

import numpy as np
import pytest

from journeysim import Journey
from journeysim.cli import main
from journeysim.engines.agents.engine import simulate_agents
from journeysim.errors import ScenarioError
from journeysim.report import simulate_report

# 0.001 arrivals a day: with seed 1 nobody arrives in one day (P = 0.999).
QUIET = """\
name: Quiet shop
stages: [awareness, purchase]
arrivals: {rate: 0.001, per: day}
entry: {ad: 1}
touchpoints:
  ad: {stage: awareness}
  buy: {stage: purchase, goal: true, value: 10}
transitions:
  ad: {buy: 0.3}
"""


def quiet_journey() -> Journey:
    return Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"],
                             extra={"arrivals": {"rate": 0.001, "per": "day"}})


@pytest.fixture
def quiet_map(tmp_path):
    path = tmp_path / "quiet.yaml"
    path.write_text(QUIET, encoding="utf-8")
    return path


def test_rates_are_none_without_arrivals():
    r = simulate_agents(quiet_journey(), 1, rng=np.random.default_rng(1))
    m = r
    assert r.arrived == 0
    assert m.conversion_rate is None
    assert (m.expected_conversions, m.expected_value, m.expected_touches, m.referrals) == (None,) * 4
    assert set(m.visit_rate.values()) == {None}
    assert m.customers_per_seed is None and m.expected_time_to_conversion is None
    assert m.removal_effects == {"ad": 1.0}       # from the exact engine: defined whatever arrived
    assert "no customers arrived" in r.method


def test_summary_says_why_and_does_not_call_growth_unbounded():
    text = simulate_agents(quiet_journey(), 1, rng=np.random.default_rng(1)).summary()
    assert "conversion rate undefined: no customers arrived in 1 day," in text
    assert "unbounded" not in text


def test_rates_stay_numbers_when_customers_arrive():
    r = simulate_agents(quiet_journey().replace(extra={"arrivals": {"rate": 50, "per": "day"}}), 2,
                        rng=np.random.default_rng(1))
    assert r.arrived > 0
    assert r.conversion_rate == r.converted / r.arrived
    assert "undefined" not in r.summary()


def test_cli_json_has_null_conversion_rate(quiet_map, capsys):
    assert main(["simulate", str(quiet_map), "--engine", "agents", "--days", "1", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["arrived"] == 0
    assert out["conversion_rate"] is None
    assert out["stage_reach"] == {"awareness": None, "purchase": None}


def test_cli_tables_and_csv(quiet_map, tmp_path, capsys):
    assert main(["simulate", str(quiet_map), "--engine", "agents", "--days", "1", "--seed", "1",
                 "--csv", str(tmp_path / "out")]) == 0
    assert "no customers arrived" in capsys.readouterr().out
    assert (tmp_path / "out" / "daily.csv").read_text().splitlines()[1] == "0,0,0,0.0,0,0,0"


def test_report_skips_the_funnel_plot(quiet_map, tmp_path, capsys):
    r = simulate_agents(quiet_journey(), 1, rng=np.random.default_rng(1))
    report = simulate_report(quiet_journey(), r, r.daily)
    assert ("conversion rate", "-") in report.facts
    assert "funnel" not in [p.name for p in report.plots]
    assert main(["report", "simulate", str(quiet_map), "--engine", "agents", "--days", "1", "--seed", "1",
                 "-o", str(tmp_path / "rep")]) == 0
    assert "No customers arrived" in (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")


def test_predict_refuses_runs_without_arrivals(quiet_map, tmp_path, capsys):
    hyp = tmp_path / "h.yaml"
    hyp.write_text(f"hypothesis: better ad\nbaseline: {quiet_map.name}\nmetric: conversion_rate\n"
                   "changes:\n  - set: {from: ad, to: buy, p: 0.4}\n", encoding="utf-8")
    from journeysim.whatif.prediction import predict

    with pytest.raises(ScenarioError, match="no customers arrived in a 1-day agents run"):
        predict(hyp, engine="agents", draws=3, size=1, rng=np.random.default_rng(1))
    assert main(["predict", str(hyp), "--engine", "agents", "--days", "1", "--draws", "3", "--seed", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "quiet.yaml: no customers arrived" in err
