"""The command line of the foundation: validate, show, simulate --engine exact, --version, --help."""

import json
import subprocess
import sys

import pytest

from journeysim import __version__
from journeysim.cli import COMMANDS, main
from journeysim.result import METRIC_KEYS

from .conftest import BUNDLED_MAPS, SCENARIOS


def test_simulate_json_has_exactly_the_metric_keys(capsys):
    assert main(["simulate", str(SCENARIOS / "online-store.yaml"), "--engine", "exact", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert tuple(data) == METRIC_KEYS
    assert data["engine"] == "exact"
    assert data["conversion_rate"] == pytest.approx(0.0484, abs=1e-4)
    assert set(data["stage_reach"]) == {"awareness", "consideration", "purchase", "retention", "advocacy"}


def test_simulate_tables_show_funnel_and_removal_effects(capsys):
    assert main(["simulate", str(SCENARIOS / "omnichannel-sk.yaml")]) == 0
    out = capsys.readouterr().out
    assert "funnel by stage" in out and "top touchpoints by removal effect" in out
    assert "návšteva predajne" in out


def test_validate_exit_codes(tmp_path, capsys):
    assert main(["validate", *map(str, BUNDLED_MAPS)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("entry: {a: 1}\ntouchpoints: {a: {}, b: {goal: true}}\ntransitions: {a: {b: 1.2}}\n")
    assert main(["validate", str(bad), str(BUNDLED_MAPS[0])]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: touchpoint 'a': edge to 'b': probability 1.2 is outside [0, 1]" in err


def test_show_prints_rows_and_drop_off(capsys):
    assert main(["show", str(SCENARIOS / "online-store.yaml")]) == 0
    out = capsys.readouterr().out
    assert "product page" in out and "exit" in out and "bargain hunters" in out


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "journeysim.cli", *args], capture_output=True, text=True)


def test_bad_input_is_one_line_and_no_traceback(tmp_path):
    missing = run_cli("simulate", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"{tmp_path / 'missing.yaml'}: no such file"
    usage = run_cli("simulate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    engine = run_cli("simulate", str(BUNDLED_MAPS[0]), "--engine", "magic")
    assert engine.returncode == 2 and "invalid choice" in engine.stderr


def test_version_and_help_on_every_command():
    assert run_cli("--version").stdout.strip() == f"journeysim {__version__}"
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage: journeysim" in result.stdout, command
