"""Finding 2: engines without bounds. ``refers: 1000`` (a valid map) took Monte Carlo to 5.4 GB, ``refers: 1e6``
asked for 74.5 GiB, the agents engine with ``refers: 2`` never finished, a self-loop of 0.999999999999999 hung Monte
Carlo even with ``--horizon 1``, and a plan's sweep grid of five paths of 100 values was built whole (5.3 GB).

Now each sampling engine checks the exact engine's expected work first and refuses, in one line naming the
touchpoint, a run past ``--max-transitions``; a run whose figures are only upper bounds (a horizon, the end of an
agents run) stops at the limit; referred customers wait as (time, count) per visit, so memory follows the chunk
whatever ``refers`` is; plans are counted before they are expanded (``--max-items``). Time is bounded by counts
(transitions, items), never measured.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from journeysim.cli import main
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.montecarlo.engine import simulate_montecarlo
from journeysim.engines.workload import MAX_TRANSITIONS, workload
from journeysim.errors import LimitError, UsageError
from journeysim.journey import Delay, Journey
from journeysim.whatif.plan import load_plan
from tests.hostile.limited import one_line_error, run_limited
from tests.hostile.test_finding7_other import project

LOOP = "0.999999999999999"


def write(folder, name: str, text: str) -> str:
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def referring(refers: str, delay: str = "", arrivals: str = "") -> str:
    return (f"entry: {{a: 1}}\ntouchpoints:\n  a: {{refers: {refers}{', delay: ' + delay if delay else ''}}}\n"
            f"  buy: {{goal: true}}\ntransitions:\n  a: {{buy: 0.5}}\n{arrivals}")


def looping(p: str = LOOP, delay: str = "", arrivals: str = "") -> str:
    rest = repr(round(1 - float(p), 15)) if p == LOOP else "0.001"
    return (f"entry: {{a: 1}}\ntouchpoints:\n  a: {{{'delay: ' + delay if delay else ''}}}\n  buy: {{goal: true}}\n"
            f"transitions:\n  a: {{a: {p}, buy: {rest}}}\n{arrivals}")


def error_line(capsys, argv: list[str], code: int = 1) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


# -- what the exact engine says a run costs ------------------------------------------------------------------


def test_the_workload_is_the_exact_engines_expected_visits():
    # ad loops with 0.5, leaves to buy with 0.25: 2 visits of ad, 0.5 of buy; buy refers 0.8 new customers.
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"ad": 0.5, "buy": 0.25}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"refers": 0.8, "delay": Delay("exponential", 1.0)}})
    w = workload(j)
    assert w.touches == pytest.approx((2.5,)) and w.busiest == "ad" and w.busiest_visits == pytest.approx(2.0)
    assert w.reproduction == pytest.approx(0.4) and w.per_seed == pytest.approx(2.5 / 0.6)
    # buy's delay makes the map timed; ad takes no time, so all 2.5 visits from ad on happen at one instant.
    assert w.timed and w.instant == pytest.approx(2.5) and w.instant_at == "ad"


def test_the_reported_self_loop_is_refused_before_it_runs_even_with_a_horizon(tmp_path, capsys):
    path = write(tmp_path, "loop.yaml", looping())
    for extra in ([], ["--horizon", "1"], ["--backend", "numpy"]):
        line = error_line(capsys, ["simulate", path, "--engine", "montecarlo", "--customers", "1000", "--seed", "1",
                                   "--quiet", *extra])
        assert line.startswith(f"{path}: touchpoint 'a': ") and "about 1e+18 transitions" in line, line
        assert "--max-transitions" in line and "1e+11" in line
    # With delays the horizon would cut it, but a loop without delays holds a customer at one instant.
    timed = write(tmp_path, "timed.yaml", looping().replace("buy: {goal: true}", "buy: {goal: true, delay: 1}"))
    line = error_line(capsys, ["simulate", timed, "--engine", "montecarlo", "--customers", "1000", "--seed", "1",
                               "--horizon", "1", "--quiet"])
    assert "touchpoint 'a': a customer there makes about 1e+15 visits at one instant" in line, line


def test_max_transitions_raises_the_limit_and_refuses_below_the_expected_work(tmp_path, capsys):
    path = write(tmp_path, "loop.yaml", looping("0.99"))     # 100 visits of a, 0.1 of buy: 100.1 a customer
    line = error_line(capsys, ["simulate", path, "--engine", "montecarlo", "--customers", "1000", "--seed", "1",
                               "--quiet", "--max-transitions", "100000"])
    assert "1,000 customers would take about 100,100 transitions (100 a customer; 100 visits of 'a' each)" in line
    assert main(["simulate", path, "--engine", "montecarlo", "--customers", "1000", "--seed", "1", "--quiet",
                 "--max-transitions", "1e6", "--json"]) == 0
    assert '"customers": 1000' in capsys.readouterr().out
    assert "belongs to the sampling engines" in error_line(capsys, ["simulate", path, "--max-transitions", "5"], 2)


def test_with_a_horizon_the_run_stops_at_the_limit(tmp_path, capsys):
    # Each visit of a takes 0.001 days and a loops with 0.999: 1,000 visits a customer, unless the horizon cuts them.
    path = write(tmp_path, "slow.yaml", looping("0.999", delay="{dist: fixed, mean: 0.001}"))
    line = error_line(capsys, ["simulate", path, "--engine", "montecarlo", "--customers", "10000", "--seed", "1",
                               "--quiet", "--horizon", "1e6", "--max-transitions", "50000"])
    assert line.startswith(f"{path}: the run stopped at the limit of 50,000 transitions (10,000 new customers"), line
    for backend in ("numba", "numpy"):
        r = simulate_montecarlo(Journey.from_rows({"a": 1.0}, {"a": {"a": 0.999, "buy": 0.001}}, goals=["buy"],
                                                  touchpoint_attributes={"a": {"delay": Delay("fixed", 0.001)}}),
                                2000, rng=np.random.default_rng(1), horizon=0.5, max_transitions=10**6,
                                backend=backend)
        assert r.transitions <= 2000 * 502         # a customer's visits by the horizon: ~500 at most, not ~1,000


@pytest.mark.parametrize("refers", ["1000", "1e6", "1e18", "1e300"])
def test_referrals_of_any_size_run_in_bounded_memory(tmp_path, refers):
    # Spelled out per customer, refers: 1e6 asked numpy for 74.5 GiB: now they wait as (time, count) per visit,
    # and referrals that sustain themselves are cut at 10 referred customers per new customer.
    path = write(tmp_path, "refers.yaml", referring(refers))
    result, = run_limited([["simulate", path, "--engine", "montecarlo", "--customers", "100000", "--seed", "1",
                            "--quiet", "--json"]], tmp_path)
    assert result["code"] == 0, result["stderr"]
    assert "the referral generations were cut" in result["stderr"] and "Traceback" not in result["stderr"]


def test_a_referral_cascade_with_delays_is_cut_by_its_counts(tmp_path):
    j = Journey.from_rows({"a": 1.0}, {"a": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"a": {"refers": 1000.0, "delay": Delay("exponential", 1.0)}})
    r = simulate_montecarlo(j, 3000, rng=np.random.default_rng(2), horizon=5.0)
    assert r.referred["truncated"] and r.referred["customers"] == 10 * 3000
    assert r.customers_per_seed is None


def test_agents_refuse_referrals_that_come_all_at_once_and_stop_growing_ones(tmp_path, capsys):
    arrivals = "arrivals: {rate: 10, per: day}\n"
    instant = write(tmp_path, "instant.yaml", referring("2", arrivals=arrivals))
    line = error_line(capsys, ["simulate", instant, "--engine", "agents", "--days", "30", "--seed", "1", "--quiet"])
    assert line.startswith(f"{instant}: touchpoint 'a': referrals sustain themselves (reproduction number 2)"), line
    growing = write(tmp_path, "growing.yaml", referring("2", delay="1", arrivals=arrivals))
    line = error_line(capsys, ["simulate", growing, "--engine", "agents", "--days", "60", "--seed", "1", "--quiet",
                               "--max-transitions", "20000"])
    assert line.startswith(f"{growing}: the run stopped at the limit of 20,000 transitions ("), line
    assert re.search(r"\(([\d,]+) customers had arrived, ([\d,]+) of them referred\)", line)
    # numpy refused a Poisson mean of 1e300 ('lam value too large'): it is drawn as 1e12, past any budget.
    huge = write(tmp_path, "huge.yaml", referring("1e300", delay="1", arrivals=arrivals))
    line = error_line(capsys, ["simulate", huge, "--engine", "agents", "--days", "30", "--seed", "1", "--quiet"])
    assert re.search(r"0 of them referred; a visit of 'a' referred [\d,]{15,} customers\); raise it", line), line


def test_agents_stopped_by_a_loop_that_social_proof_closes_say_where_the_visits_went(tmp_path, capsys):
    # 'page' repeats itself with p 0.95 and no delay: the checks before the run see about 20 visits a customer, but
    # social proof at strength 2 takes the loop to probability 1 once 2.6% of customers have converted, and from
    # then on everyone at 'page' loops at one instant until the limit: the message names the touchpoint
    looped = write(tmp_path, "looped.yaml", "arrivals: {rate: 2000, per: day}\nentry: {ad: 1}\n"
                   "touchpoints:\n  ad: {delay: 0.1}\n  page: {}\n  buy: {goal: true}\n"
                   "transitions:\n  ad: {page: 0.5, buy: 0.1}\n  page: {page: {p: 0.95, social_proof: 2}}\n")
    line = error_line(capsys, ["simulate", looped, "--engine", "agents", "--days", "10", "--seed", "1", "--quiet",
                               "--max-transitions", "200000"])
    assert line.startswith(f"{looped}: the run stopped at the limit of 200,000 transitions ("), line
    assert re.search(r"of them referred; 99\.\d% of the visits were to 'page'\); raise it", line), line


def test_agents_refuse_a_loop_without_delays_and_a_flood_of_arrivals(tmp_path, capsys):
    loop = write(tmp_path, "loop.yaml", looping(arrivals="arrivals: {rate: 10, per: day}\n"))
    line = error_line(capsys, ["simulate", loop, "--engine", "agents", "--days", "30", "--seed", "1", "--quiet"])
    assert "touchpoint 'a': the 300 customers expected in 30 days would make about 3e+17 visits" in line, line
    flood = write(tmp_path, "flood.yaml", looping("0.5", arrivals="arrivals: {rate: 1e300, per: day}\n"))
    line = error_line(capsys, ["simulate", flood, "--engine", "agents", "--days", "30", "--seed", "1", "--quiet"])
    assert "about 3e+301 customers would arrive in 30 days" in line and f"{MAX_TRANSITIONS['agents']:.3g}" in line
    j = Journey.from_rows({"a": 1.0}, {"a": {"buy": 0.5}}, goals=["buy"],
                          extra={"arrivals": {"rate": 100, "per": "day"}})
    with pytest.raises(LimitError, match=r"about 3,000 customers would arrive in 30 days"):
        simulate_agents(j, 30, rng=np.random.default_rng(1), max_transitions=1000)
    with pytest.raises(UsageError, match=r"max_transitions=0: must be a whole number >= 1"):
        simulate_agents(j, 30, rng=np.random.default_rng(1), max_transitions=0)


def test_predict_counts_every_draw(tmp_path, capsys):
    folder = project(tmp_path)
    line = error_line(capsys, ["predict", str(folder / "hyp.yaml"), "--engine", "montecarlo", "--draws", "100",
                               "--customers", "1000", "--seed", "1", "--max-transitions", "100000"])
    assert line.startswith(f"{folder / 'hyp.yaml'}: 100 draws of 1,000 customers per arm and segment with the "
                           "montecarlo engine would take about "), line


def test_the_reported_sweep_grid_is_refused_before_it_is_built(tmp_path):
    folder = project(tmp_path)
    values = [round(0.001 * i, 4) for i in range(1, 101)]
    paths = ["changes[0].from.cart.p", "changes[0].to.purchase[0]", "changes[0].to.purchase[1]",
             "changes[1].scale.by[0]", "changes[1].scale.by[1]"]
    plan = {"plan": "grid", "hypotheses": [{"file": "hyp.yaml", "sweep": {p: values for p in paths}}]}
    (folder / "plan.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    result, = run_limited([["run", str(folder / "plan.yaml"), "--workers", "1", "-o", str(folder / "out")]], folder,
                          memory=2**30)
    line = one_line_error(result)
    assert "hypotheses[0]: the plan would have more than 10,000 items" in line
    assert "100 x 100 x 100 x 100 x 100 = 10,000,000,000 points" in line and "--max-items" in line
    assert not (folder / "out").exists()
    small = {"plan": "grid", "hypotheses": [{"file": "hyp.yaml", "sweep": {paths[0]: values[:3]}}], "seeds": [1, 2]}
    (folder / "small.yaml").write_text(yaml.safe_dump(small), encoding="utf-8")
    assert len(load_plan(folder / "small.yaml", max_items=6).items) == 6
    with pytest.raises(LimitError, match=r"more than 5 items .* 3 = 3 points, each run by 2 engine and seed pairs"):
        load_plan(folder / "small.yaml", max_items=5)
