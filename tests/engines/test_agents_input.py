"""The agent engine's map attributes, bad input, features with known answers, and the command line."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import yaml

from journeysim import (
    Journey,
    MapError,
    UsageError,
    check_map,
    dump_journey,
    load_journey,
    read_journey,
)
from journeysim.cli import main
from journeysim.engines.agents.engine import simulate_agents
from tests.conftest import SCENARIOS

LIVE_CHAT = SCENARIOS / "online-store-live-chat.yaml"


def base_map(**changes) -> dict:
    data = {
        "name": "shop",
        "stages": ["awareness", "purchase", "retention"],
        "arrivals": {"rate": 100, "per": "day"},
        "entry": {"ad": 1},
        "touchpoints": {
            "ad": {"stage": "awareness", "delay": 0.1},
            "chat": {"stage": "purchase", "delay": 0.01, "capacity": 2, "patience": 0.01},
            "buy": {"stage": "purchase", "goal": True, "value": 10},
            "mail": {"stage": "retention", "delay": 5},
        },
        "transitions": {"ad": {"chat": 0.5}, "chat": {"buy": 0.5}, "buy": {"mail": 0.5}},
    }
    for key, value in changes.items():
        data[key] = value
    return data


def tp(**attrs) -> dict:
    touchpoints = base_map()["touchpoints"]
    touchpoints["ad"] = {**touchpoints["ad"], **attrs}
    return touchpoints


def campaign(**c) -> list:
    return [{"stage": "retention", "to": "buy", "p": 0.5, "day": 3, **c}]


BAD_MAPS = [
    ("capacity 0", {"touchpoints": tp(capacity=0)}, "touchpoint 'ad': capacity: capacity 0 must be at least 1"),
    ("fractional capacity", {"touchpoints": tp(capacity=1.5)}, "capacity 1.5 must be a whole number"),
    ("negative patience", {"touchpoints": tp(capacity=1, patience=-1)}, "touchpoint 'ad': patience: patience -1 must be > 0"),
    ("negative cost", {"touchpoints": tp(cost=-2)}, "touchpoint 'ad': cost: -2 is negative"),
    ("bad budget period", {"touchpoints": tp(cost=1, budget={"amount": 5, "per": "fortnight"})},
     "budget period 'fortnight' is not one of"),
    ("budget without amount", {"touchpoints": tp(cost=1, budget={"per": "day"})}, "a budget needs 'amount'"),
    ("negative arrival rate", {"arrivals": {"rate": -5, "per": "day"}}, "arrivals: rate: -5 must be > 0"),
    ("arrival rate missing", {"arrivals": {"per": "day"}}, "arrivals: needs 'rate'"),
    ("arrival unit", {"arrivals": {"rate": 5, "per": "fortnight"}}, "arrivals: per: 'fortnight' is not a time unit"),
    ("weekday length", {"arrivals": {"rate": 5, "weekday": [1, 1]}}, "weekday must be a list of 7 multipliers"),
    ("negative season", {"arrivals": {"rate": 5, "season": [1] * 11 + [-1]}}, "season multiplier 12: -1 is negative"),
    ("unknown arrival key", {"arrivals": {"rate": 5, "prer": "day"}}, "unknown key 'prer' (did you mean 'per'?)"),
    ("campaign unknown stage", {"campaigns": campaign(stage="retension")},
     "campaign 1: stage: unknown stage 'retension' (did you mean 'retention'?)"),
    ("campaign unknown touchpoint", {"campaigns": [{"touchpoint": "mial", "to": "buy", "day": 1}]},
     "campaign 1: touchpoint: unknown touchpoint 'mial' (did you mean 'mail'?)"),
    ("campaign unknown target", {"campaigns": campaign(to="bye", name="blast")}, "campaign 'blast': to: unknown touchpoint 'bye'"),
    ("campaign bad p", {"campaigns": campaign(p=1.5)}, "campaign 1: p: probability 1.5 is outside [0, 1]"),
    ("campaign day and every", {"campaigns": campaign(every=7)}, "needs exactly one of 'day'"),
    ("campaign negative day", {"campaigns": campaign(day=-1)}, "campaign 1: day: -1 is not a day of the run"),
    ("campaign both targets", {"campaigns": campaign(touchpoint="mail")}, "needs exactly one of 'stage' or 'touchpoint'"),
    ("campaigns not a list", {"campaigns": {"day": 1}}, "campaigns: must be a list"),
    ("social proof negative", {"transitions": {"ad": {"chat": {"p": 0.5, "social_proof": -1}}}},
     "touchpoint 'ad': edge to 'chat': social_proof: -1 is negative"),
    ("fatigue above 1", {"transitions": {"ad": {"chat": {"p": 0.5, "fatigue": 1.2}}}},
     "touchpoint 'ad': edge to 'chat': fatigue: probability 1.2 is outside [0, 1]"),
]


@pytest.mark.parametrize("what, changes, message", BAD_MAPS, ids=[b[0] for b in BAD_MAPS])
def test_bad_map_attributes_are_reported_with_file_and_item(tmp_path, what, changes, message):
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(base_map(**changes)), encoding="utf-8")
    check = check_map(path)
    assert not check.ok
    assert any(e.startswith(f"{path}: ") and message in e for e in check.errors), check.errors


BAD_RUNS = [
    ("campaign after the run", {"campaigns": campaign(day=30)}, "campaign 1: day: day 30 is outside the run (days 0 to 9)"),
    ("campaign start after the run", {"campaigns": [{"stage": "retention", "to": "buy", "every": 2, "start": 12}]},
     "campaign 1: start: day 12 is outside the run"),
    ("budget without cost", {"touchpoints": tp(budget=100)}, "touchpoint 'ad': a budget needs a 'cost'"),
    ("patience without capacity", {"touchpoints": tp(patience=1)}, "touchpoint 'ad': 'patience' needs 'capacity'"),
    ("no arrivals", {"arrivals": None}, "needs 'arrivals: {rate"),
]


@pytest.mark.parametrize("what, changes, message", BAD_RUNS, ids=[b[0] for b in BAD_RUNS])
def test_problems_known_only_for_a_run_raise_map_error_naming_file_and_item(what, changes, message):
    data = base_map(**changes)
    data = {k: v for k, v in data.items() if v is not None}
    journey = read_journey(data, "shop.yaml")
    with pytest.raises(MapError) as info:
        simulate_agents(journey, 10, rng=np.random.default_rng(0), source="shop.yaml")
    assert any(m.startswith("shop.yaml: ") and message in m for m in info.value.messages), info.value.messages


@pytest.mark.parametrize("days", [0, -3, 2.5, True])
def test_bad_days_is_a_usage_error(days):
    with pytest.raises(UsageError, match="days"):
        simulate_agents(read_journey(base_map()), days, rng=np.random.default_rng(0))


def test_agent_attributes_round_trip_through_dump(tmp_path):
    journey = load_journey(LIVE_CHAT)
    again = read_journey(yaml.safe_load(yaml.safe_dump(dump_journey(journey), allow_unicode=True)))
    assert dump_journey(again) == dump_journey(journey)
    assert again.touchpoints["live chat"].extra["capacity"] == 3
    assert again.extra["campaigns"][0]["every"] == 30


def test_budget_caps_daily_spend_and_arrivals():
    # 200 would-be arrivals a day through an ad that can pay for 50 visits a day.
    data = base_map(arrivals={"rate": 200, "per": "day"}, touchpoints=tp(cost=2, budget={"amount": 100, "per": "day"}))
    r = simulate_agents(read_journey(data), 10, rng=np.random.default_rng(4))
    assert all(row["arrivals"] <= 50 for row in r.daily)
    assert r.touchpoints["ad"]["spend"] == pytest.approx(2 * 50 * 10)
    assert r.touchpoints["ad"]["skipped"] > 1000


def test_campaign_moves_the_stage_with_binomial_probability():
    # Everyone waits at 'mail' (retention) for 1000 days; on day 5 a campaign sends each to 'buy' with p = 0.3.
    data = {
        "stages": ["awareness", "retention", "purchase"],
        "arrivals": {"rate": 400, "per": "day"},
        "entry": {"mail": 1},
        "touchpoints": {"mail": {"stage": "retention", "delay": {"dist": "fixed", "mean": 1000}},
                        "buy": {"stage": "purchase", "goal": True}},
        "transitions": {"mail": {"buy": 1}},
        "campaigns": [{"name": "blast", "stage": "retention", "to": "buy", "p": 0.3, "day": 5}],
    }
    r = simulate_agents(read_journey(data), 8, rng=np.random.default_rng(9))
    waiting = sum(row["arrivals"] for row in r.daily[:5])    # arrived before the campaign, still at 'mail'
    pushed = r.daily[5]["conversions"]
    assert r.converted == pushed == r.converted_and_left
    assert abs(pushed - 0.3 * waiting) < 4.5 * math.sqrt(waiting * 0.3 * 0.7)
    assert r.daily[4]["in_stage"]["retention"] == waiting
    assert r.daily[5]["in_stage"]["retention"] == waiting - pushed + r.daily[5]["arrivals"]


def test_social_proof_reaches_its_fixed_point():
    # p' = 0.2 (1 + 1 * share) and share -> x = 0.2 (1 + x): x = 0.25 (0.2 without social proof).
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"],
                          extra={"arrivals": {"rate": 2000, "per": "day"}})
    edge = j.rows["ad"]["buy"]
    j = j.replace(rows={"ad": {"buy": type(edge)(0.2, extra={"social_proof": 1.0})}})
    r = simulate_agents(j, 20, rng=np.random.default_rng(2))
    n = r.arrived
    assert abs(r.conversion_rate - 0.25) < 4.5 * math.sqrt(0.25 * 0.75 / n) + 0.002


def test_fatigue_matches_the_geometric_product():
    # 'ad' repeats itself with p = 0.8 * 0.5**(k-1) on the k-th visit: E[visits] = sum_k prod_{j<k} 0.8 * 0.5**(j-1).
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"ad": 0.8, "buy": 0.1}}, goals=["buy"],
                          extra={"arrivals": {"rate": 3000, "per": "day"}})
    edge = j.rows["ad"]["ad"]
    j = j.replace(rows={"ad": {"ad": type(edge)(0.8, extra={"fatigue": 0.5}), "buy": j.rows["ad"]["buy"]}})
    expected, reach = 0.0, 1.0
    for k in range(1, 60):
        expected += reach
        reach *= 0.8 * 0.5 ** (k - 1)
    r = simulate_agents(j, 10, rng=np.random.default_rng(6))
    assert r.touchpoints["ad"]["visits"] / r.arrived == pytest.approx(expected, rel=0.01)


def test_weekday_multipliers_shape_arrivals():
    data = base_map(arrivals={"rate": 1000, "per": "day", "weekday": [1, 1, 1, 1, 1, 0, 0]})
    r = simulate_agents(read_journey(data), 14, rng=np.random.default_rng(1))
    assert [row["arrivals"] == 0 for row in r.daily] == [False] * 5 + [True] * 2 + [False] * 5 + [True] * 2


# -- the command line ----------------------------------------------------------------------


def test_cli_json_has_the_exact_keys_and_the_run_keys(capsys):
    assert main(["simulate", str(LIVE_CHAT), "--engine", "agents", "--days", "4", "--seed", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == "agents" and data["seed"] == 1 and data["days"] == 4
    for key in ("conversion_rate", "expected_conversions", "expected_value", "expected_touches",
                "expected_time_to_conversion", "visit_rate", "stage_reach", "removal_effects", "referrals",
                "customers_per_seed", "arrived", "converted", "revenue", "daily", "touchpoints"):
        assert key in data
    assert set(data["touchpoints"]["live chat"]) >= {"visits", "abandoned", "mean_wait", "utilisation", "spend"}
    assert set(data["daily"][0]) >= {"day", "arrivals", "conversions", "revenue", "in_stage"}


def test_cli_csv_writes_both_tables(tmp_path, capsys):
    out = tmp_path / "tables"
    assert main(["simulate", str(LIVE_CHAT), "--engine", "agents", "--days", "4", "--seed", "2", "--csv", str(out),
                 "--quiet"]) == 0
    assert "touchpoints" in capsys.readouterr().out
    with open(out / "daily.csv", encoding="utf-8") as fh:
        daily = list(csv.DictReader(fh))
    with open(out / "touchpoints.csv", encoding="utf-8") as fh:
        tps = {row["touchpoint"]: row for row in csv.DictReader(fh)}
    assert [row["day"] for row in daily] == ["0", "1", "2", "3"] and "in retention" in daily[0]
    assert tps["social post"]["utilisation"] == "" and float(tps["live chat"]["utilisation"]) > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("argv, message", [
    (["--days", "0"], "--days '0': must be a whole number from 1 to 36_500"),
    (["--days", "ten"], "--days 'ten'"),
    ([], "needs --days"),
    (["--days", "3", "--seed", "-1"], "--seed '-1'"),
    (["--days", "3", "--customers", "10"], "--customers belongs to the montecarlo engine"),
])
def test_cli_bad_options_exit_2(capsys, argv, message):
    assert main(["simulate", str(LIVE_CHAT), "--engine", "agents", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_campaign_outside_the_run_exits_1_naming_the_file(capsys):
    assert main(["simulate", str(LIVE_CHAT), "--engine", "agents", "--days", "2", "--seed", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"{LIVE_CHAT}: campaign 'monthly newsletter': start: day 2 is outside the run (days 0 to 1)")


def test_progress_bar_does_not_change_the_result(monkeypatch):
    from journeysim.engines.agents import engine as agents

    monkeypatch.setattr(agents, "PROGRESS_AFTER", 0.0)      # show it from the first day
    journey = read_journey(base_map())
    shown = simulate_agents(journey, 5, rng=np.random.default_rng(3), progress=True)
    quiet = simulate_agents(journey, 5, rng=np.random.default_rng(3))
    assert shown.to_dict() == quiet.to_dict()


def test_cli_csv_into_a_file_exits_1_before_running(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main(["simulate", str(LIVE_CHAT), "--engine", "agents", "--days", "4", "--csv", str(blocker)]) == 1
    captured = capsys.readouterr()
    assert "cannot create the folder" in captured.err and captured.out == ""
