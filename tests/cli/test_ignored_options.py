"""Options that a command would accept and then silently ignore are usage errors (exit 2) naming the option."""

from __future__ import annotations

import pytest

from journeysim.cli import main
from tests.conftest import ROOT

EXPERIMENTS = ROOT / "experiments"
PREDICTION = str(EXPERIMENTS / "live-chat.prediction.json")
AGGREGATED = str(EXPERIMENTS / "live-chat.aggregated.csv")
PER_CUSTOMER = str(EXPERIMENTS / "live-chat.results.csv")
HYPOTHESIS = str(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml")
MAP = str(ROOT / "scenarios" / "online-store.yaml")
PATHS = "PATHS"          # replaced by a path file written for the test


@pytest.fixture
def paths_file(tmp_path):
    path = tmp_path / "paths.csv"
    path.write_text("path,total_conversions,total_null\na > b,3,1\nb,1,3\n", encoding="utf-8")
    return str(path)


CASES = [
    (["predict", HYPOTHESIS, "--days", "30"], "--days belongs to the agents engine, not to --engine exact"),
    (["predict", HYPOTHESIS, "--engine", "agents", "--customers", "1000"],
     "--customers belongs to the montecarlo engine, not to --engine agents"),
    (["predict", HYPOTHESIS, "--engine", "montecarlo", "--days", "30"],
     "--days belongs to the agents engine, not to --engine montecarlo"),
    (["design", "--baseline", "0.05", "--relative", "--customers", "10000"],
     "--relative has no effect without --lift (it makes --lift relative to --baseline)"),
    (["check", PREDICTION, AGGREGATED, "--no-ledger", "--force"],
     "--force has no effect with --no-ledger (nothing is recorded)"),
    (["check", PREDICTION, AGGREGATED, "--no-ledger", "--ledger", "x.csv"],
     "--ledger has no effect with --no-ledger (nothing is recorded)"),
    (["run", "plan.yaml", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
     "--workers has no effect with --scheduler (the Dask cluster's workers run the items)"),
    (["reevaluate", "old.yaml", "new.yaml", "--goal", "buy"],
     "--goal has no effect when OLD and NEW are both maps (it names the goals of an event log)"),
    (["report", "reevaluate", "old.yaml", "new.json", "--goal", "buy", "-o", "out"],
     "--goal has no effect when OLD and NEW are both maps (it names the goals of an event log)"),
    (["analyze", AGGREGATED, "--converted-column", "bought"],
     f"--converted-column has no effect on {AGGREGATED}: it holds aggregated results (variant, customers, "
     "conversions), not per-customer rows"),
    (["check", PREDICTION, AGGREGATED, "--no-ledger", "--covariate-column", "pre_revenue"],
     f"--covariate-column has no effect on {AGGREGATED}: it holds aggregated results (variant, customers, "
     "conversions), not per-customer rows"),
    (["attribute", PATHS, "--model", "first", "--order", "2"],
     "--order has no effect without the markov model (it is the Markov chain's order)"),
    (["attribute", PATHS, "--model", "markov", "--half-life", "2"],
     "--half-life has no effect without the time-decay model"),
    (["attribute", PATHS, "--seed", "1"], "--seed has no effect without --bootstrap (only the bootstrap is random)"),
    (["attribute", PATHS, "--lookback", "30d"],
     "--lookback has no effect on PATHS: it is a path file, whose paths are already cut and end at their conversion"),
    (["report", "attribute", PATHS, "--goal", "b", "-o", "out"],
     "--goal has no effect on PATHS: it is a path file, whose paths are already cut and end at their conversion"),
    (["fit", PATHS, "-o", "OUT", "--repeat"],
     "--repeat has no effect on PATHS: it is a path file, whose paths are already cut and end at their conversion"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=lambda x: " ".join(x[:2]) if isinstance(x, list) else None)
def test_ignored_option_is_a_usage_error(argv, message, paths_file, tmp_path, capsys):
    out = tmp_path / "fitted.yaml"
    argv = [paths_file if a == PATHS else str(out) if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"journeysim {argv[0]}: error: {message.replace(PATHS, paths_file)}\n"
    assert not out.exists()


def test_options_that_apply_are_still_accepted(paths_file, tmp_path, capsys):
    assert main(["attribute", paths_file, "--model", "markov", "--order", "2", "--json"]) == 0
    assert main(["attribute", paths_file, "--model", "time-decay", "--half-life", "2", "--bootstrap", "5",
                 "--seed", "1", "--json"]) == 0
    assert main(["design", "--baseline", "0.05", "--lift", "0.1", "--relative"]) == 0
    assert main(["analyze", PER_CUSTOMER, "--converted-column", "converted", "--revenue-column", "revenue"]) == 0
    assert main(["check", PREDICTION, AGGREGATED, "--no-ledger"]) == 0
    ledger = tmp_path / "ledger.csv"
    assert main(["check", PREDICTION, AGGREGATED, "--ledger", str(ledger)]) == 0
    assert main(["check", PREDICTION, AGGREGATED, "--ledger", str(ledger), "--force"]) == 0
    assert len(ledger.read_text(encoding="utf-8").splitlines()) == 3


def test_a_named_revenue_column_must_exist(capsys):
    assert main(["analyze", PER_CUSTOMER, "--revenue-column", "rev"]) == 1
    assert capsys.readouterr().err == f"{PER_CUSTOMER}: missing column 'rev' (named by --revenue-column)\n"
