"""journeysim.toml: found in the folder or its parents, checked key by key, overridden by options."""

import json
import re
from pathlib import Path

import pytest

from journeysim.cli import main
from journeysim.config import ProjectConfig, find_config, load_config, read_config
from journeysim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
HYPOTHESIS = ROOT / "scenarios" / "hypotheses" / "live-chat.yaml"
MAP = ROOT / "scenarios" / "online-store.yaml"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with a config file; the test runs in a subfolder of it."""
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")

    def write(text: str) -> Path:
        path = tmp_path / "journeysim.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_found_in_the_nearest_parent_and_read(project, tmp_path):
    path = project('ledger = "experiments/ledger.csv"\nseed = 42\ncurrency = "€"\nscheduler = "tcp://h:8786"\n')
    (tmp_path / "sub" / "deeper").mkdir()
    assert find_config(tmp_path / "sub" / "deeper") == path
    config = load_config()
    assert config == ProjectConfig(str(path), str(tmp_path / "experiments" / "ledger.csv"), 42, "€", "tcp://h:8786")
    (tmp_path / "sub" / "journeysim.toml").write_text('currency = "CZK"\n', encoding="utf-8")
    assert load_config() == ProjectConfig(str(tmp_path / "sub" / "journeysim.toml"), currency="CZK")


@pytest.mark.parametrize("text, message", [
    ("currency = 'EUR'\nledger = \n", "invalid TOML: Invalid value (at line 2, column 10)"),
    ("ledgr = 'x.csv'", "unknown key 'ledgr' (did you mean 'ledger'?) (allowed: ledger, seed, currency, scheduler)"),
    ("seed = 'sometimes'", "seed: 'sometimes' must be \"fresh\""),
    ("seed = -1", "seed: -1 must be"),
    ("seed = true", "seed: True must be"),
    ("currency = ''", "currency: '' must be a currency code or symbol"),
    ("currency = 'Euro dollars'", "currency: 'Euro dollars' must be a currency code or symbol (at most 8"),
    ("scheduler = 8786", "scheduler: 8786 must be a Dask scheduler address"),
    ("ledger = ['a.csv']", "ledger: ['a.csv'] must be the ledger CSV's path"),
])
def test_bad_config_is_one_line_naming_file_and_key(project, capsys, text, message):
    path = project(text)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert main(["ledger", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_verbose_says_which_config_is_used(project, tmp_path, capsys):
    assert main(["validate", str(MAP), "--verbose"]) == 0
    assert "config: none (no journeysim.toml in this folder or its parents" in capsys.readouterr().err
    path = project('currency = "EUR"\n')
    assert main(["--verbose", "validate", str(MAP)]) == 0
    assert (f"journeysim validate: config {path}: ledger none, seed fresh, currency EUR, scheduler none"
            in capsys.readouterr().err)
    assert main(["validate", str(MAP)]) == 0
    assert capsys.readouterr().err == ""                 # said only when asked


def _predict_seed(args, capsys) -> tuple[int, int | None, str]:
    code = main(["predict", str(HYPOTHESIS), "--draws", "20", "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)["seed"] if code == 0 else None, captured.err


def test_seed_policy_fixed_required_and_overridden(project, capsys):
    project("seed = 7\n")
    code, used, _ = _predict_seed([], capsys)
    assert (code, used) == (0, 7)
    assert _predict_seed(["--seed", "3"], capsys)[:2] == (0, 3)         # the option wins
    path = project('seed = "required"\n')
    code, _, err = _predict_seed([], capsys)
    assert code == 2 and f'--seed is required: {path} sets seed = "required"' in err
    assert _predict_seed(["--seed", "3"], capsys)[:2] == (0, 3)
    project('seed = "fresh"\n')
    assert _predict_seed([], capsys)[0] == 0


def _refused_when_required_and_fixed_when_set(project, capsys, argv):
    """``argv`` without --seed: refused under seed = "required"; under seed = 7, run with 7 (said on stderr) and
    printing what --seed 7 prints."""
    path = project('seed = "required"\n')
    assert main(argv) == 2
    assert f'--seed is required: {path} sets seed = "required"' in capsys.readouterr().err
    project("seed = 7\n")
    assert main(argv) == 0
    fixed = capsys.readouterr()
    assert f"journeysim {argv[0]}: no --seed given, using --seed 7 from {path}" in fixed.err
    assert main([*argv, "--seed", "7"]) == 0 and capsys.readouterr().out == fixed.out


def test_the_attribution_bootstrap_follows_the_seed_policy(project, capsys):
    # it drew a fresh seed it never said, whatever the config set
    log = ROOT / "scenarios" / "events" / "online-store-2025.csv"
    argv = ["attribute", str(log), "--goal", "purchase", "--model", "last", "--bootstrap", "5", "--json"]
    _refused_when_required_and_fixed_when_set(project, capsys, argv)
    project('seed = "fresh"\n')
    assert main(argv) == 0
    fresh = capsys.readouterr()
    said = re.search(r"journeysim attribute: no --seed given, using --seed (\d+)\n", fresh.err)
    assert said
    assert main([*argv, "--seed", said.group(1)]) == 0 and capsys.readouterr().out == fresh.out   # repeatable
    assert main(argv[:-3] + ["--json"]) == 0 and "--seed" not in capsys.readouterr().err   # nothing drawn


def test_reevaluate_keeps_seed_0_unless_the_policy_says_otherwise(project, capsys):
    # its documented default is --seed 0; it ignored a project's "required" and its fixed seed
    logs = [str(ROOT / "scenarios" / "events" / f"online-store-{year}.csv") for year in (2025, 2026)]
    argv = ["reevaluate", *logs, "--goal", "purchase", "--draws", "20", "--json"]
    assert main([*argv, "--seed", "0"]) == 0
    zero = capsys.readouterr().out
    _refused_when_required_and_fixed_when_set(project, capsys, argv)
    project('seed = "fresh"\n')
    assert main(argv) == 0 and capsys.readouterr().out == zero      # the documented default


def test_the_scheduler_of_the_config_is_used_unless_workers_are_given(project, tmp_path, capsys):
    project('scheduler = "tcp://127.0.0.1:9"\n')           # nothing listens on the discard port
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"hypotheses: [{HYPOTHESIS}]\ndraws: 20\n", encoding="utf-8")
    assert main(["run", str(plan), "-o", str(tmp_path / "out"), "--quiet", "--allow-outside"]) == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler" in capsys.readouterr().err
    assert main(["run", str(plan), "-o", str(tmp_path / "out"), "--workers", "1", "--json", "--allow-outside"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "1 local process"


def test_the_currency_of_the_config_shows_when_the_map_names_none(project, capsys):
    project('currency = "CZK"\n')
    assert main(["simulate", str(MAP)]) == 0
    assert "1.99 CZK" in capsys.readouterr().out
    assert main(["simulate", str(MAP), "--currency", "EUR"]) == 0          # the command line wins
    out = capsys.readouterr().out
    assert "1.99 EUR" in out and "CZK" not in out


def test_ledger_without_a_file_outside_a_project_says_what_to_give(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                       # no journeysim.toml, no experiments/ledger.csv
    assert main(["ledger"]) == 1
    assert capsys.readouterr().err.strip() == ("no ledger named and no experiments/ledger.csv here: give the "
                                               "ledger's file, or set ledger in journeysim.toml")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "ledger.csv").write_bytes((ROOT / "experiments" / "ledger.csv").read_bytes())
    assert main(["ledger", "--json"]) == 0           # the conventional place is still read when it is there
    rows = len((ROOT / "experiments" / "ledger.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert json.loads(capsys.readouterr().out)["checks"] == rows
