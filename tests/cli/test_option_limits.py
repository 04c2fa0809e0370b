"""Options that set a run's size are refused beyond what could finish (or fit in memory), not left running."""

from __future__ import annotations

import pytest

from journeysim.cli import main
from journeysim.cli._options import RUN_SIZE_LIMITS, run_size
from journeysim.errors import UsageError
from tests.conftest import ROOT

MAP = str(ROOT / "scenarios" / "online-store.yaml")
AGENT_MAP = str(ROOT / "scenarios" / "online-store-live-chat.yaml")
HYPOTHESIS = str(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml")
STAFFING = str(ROOT / "scenarios" / "hypotheses" / "chat-staffing.yaml")       # a map with arrivals


@pytest.mark.parametrize("kind", sorted(RUN_SIZE_LIMITS))
def test_each_limit_is_inclusive(kind):
    limit, why = RUN_SIZE_LIMITS[kind]
    assert run_size(kind, "--x", str(limit)) == limit
    with pytest.raises(UsageError) as info:
        run_size(kind, "--x", str(limit + 1))
    assert str(info.value) == f"--x '{limit + 1}': must be a whole number from 1 to {limit:_} ({why})"
    with pytest.raises(UsageError) as info:              # the reason is for values above the limit only
        run_size(kind, "--x", "0")
    assert str(info.value) == f"--x '0': must be a whole number from 1 to {limit:_}"


@pytest.mark.parametrize("argv, message", [
    (["simulate", MAP, "--engine", "montecarlo", "--customers", "1e15"],
     "--customers '1e15': must be a whole number from 1 to 10_000_000_000 (customers simulated in one run: more "
     "would take hours)"),
    (["simulate", MAP, "--engine", "montecarlo", "--chunk-size", "1e9"],
     "--chunk-size '1e9': must be a whole number from 1 to 10_000_000 (customers held in memory at once: about 2 GB)"),
    (["simulate", AGENT_MAP, "--engine", "agents", "--days", "1e6"],
     "--days '1e6': must be a whole number from 1 to 36_500 (100 years of calendar)"),
    (["report", "simulate", AGENT_MAP, "--engine", "agents", "--days", "36501", "-o", "OUT"],
     "--days '36501': must be a whole number from 1 to 36_500 (100 years of calendar)"),
    (["predict", HYPOTHESIS, "--draws", "1e12"],
     "--draws '1e12': must be a whole number from 1 to 100_000 (draws held in memory at once: about 1 GB)"),
    (["predict", HYPOTHESIS, "--engine", "montecarlo", "--customers", "1e11"],
     "--customers '1e11': must be a whole number from 1 to 10_000_000_000 (customers simulated in one run: more "
     "would take hours)"),
    (["predict", HYPOTHESIS, "--engine", "montecarlo", "--draws", "2000", "--customers", "1e8"],
     "--draws 2000 x --customers 100000000 = 2e+11 customers per arm and segment, more than 10_000_000_000 "
     "(customers simulated in one run: more would take hours); use fewer draws or customers"),
    (["predict", HYPOTHESIS, "--engine", "agents", "--days", "50000"],
     "--days '50000': must be a whole number from 1 to 36_500 (100 years of calendar)"),
    (["reevaluate", "old.yaml", "new.yaml", "--draws", "1e9"],
     "--draws '1e9': must be a whole number from 10 to 100_000 (draws held in memory at once: about 1 GB)"),
    (["fit", "events.csv", "-o", "OUT", "--threads", "1e9"],
     "--threads '1e9': must be a whole number from 1 to 1_024 (threads of one process: more only add overhead)"),
    (["fit", "events.csv", "-o", "OUT", "--lookback", "999999999w"],
     "--lookback '999999999w' is longer than 100 years (36500d, the most allowed); leave it out for no window"),
    (["attribute", "events.csv", "--lookback", "36501d"],
     "--lookback '36501d' is longer than 100 years (36500d, the most allowed); leave it out for no window"),
    (["attribute", "paths.csv", "--bootstrap", "1e6"],
     "--bootstrap '1e6': must be a whole number from 0 to 10_000 (replicates: more would take hours and not narrow "
     "a 95% interval)"),
])
def test_cli_refuses_huge_values(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / "report") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"journeysim {argv[0]}: error: {message}\n"


@pytest.mark.parametrize("extra, message", [
    (f"hypotheses: [{HYPOTHESIS}]\nengines: [exact]\ndraws: 1000000\n",
     "draws: 1_000_000 is more than 100_000 (draws held in memory at once: "
                                            "about 1 GB)"),
    (f"hypotheses: [{HYPOTHESIS}]\nengines: [montecarlo]\ndraws: 2000\ncustomers: 100000000\n",
     "draws x customers: 200_000_000_000 is more than 10_000_000_000 (customers simulated in one run: more would "
     "take hours)"),
    (f"hypotheses: [{STAFFING}]\nengines: [agents]\ndraws: 10\ndays: 40000\n",
     "days: 40_000 is more than 36_500 (100 years of calendar)"),
])
def test_plans_are_held_to_the_same_limits(extra, message, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"plan: big\n{extra}", encoding="utf-8")
    assert main(["run", str(plan), "-o", str(tmp_path / "out"), "--workers", "1", "--allow-outside"]) == 1
    assert capsys.readouterr().err == f"{plan}: {message}\n"
    assert not (tmp_path / "out").exists()


def test_values_within_the_limits_still_run(capsys):
    assert main(["simulate", MAP, "--engine", "montecarlo", "--customers", "2000", "--chunk-size", "1e7",
                 "--seed", "1", "--json"]) == 0
    assert main(["predict", HYPOTHESIS, "--draws", "20", "--seed", "1", "--json"]) == 0


@pytest.mark.parametrize("lift", ["-10%", "-0.5pp", "-0.005", "-5e-3"])
def test_a_negative_lift_is_a_value_not_an_option(lift, capsys):
    # argparse took '-10%' and '-0.5pp' for options: "argument --lift: expected one argument"
    import json

    assert main(["design", "--baseline", "0.05", "--lift", lift, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lift_abs"] == pytest.approx(-0.005)


def test_an_unknown_option_after_one_that_takes_a_value_is_still_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["design", "--baseline", "0.05", "--lift", "-x"])
    assert exit_.value.code == 2
    assert "argument --lift: expected one argument" in capsys.readouterr().err
