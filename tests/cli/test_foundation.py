"""The command line of the foundation: validate, show, simulate --engine exact, --version, --help."""

import json
import subprocess
import sys

import pytest

from journeysim import __version__
from journeysim.cli import COMMANDS, main
from journeysim.engines.metrics import METRIC_KEYS

from tests.conftest import BUNDLED_MAPS, SCENARIOS


def test_simulate_json_has_exactly_the_metric_keys_and_the_method(capsys):
    assert main(["simulate", str(SCENARIOS / "online-store.yaml"), "--engine", "exact", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert tuple(data) == (*METRIC_KEYS, "method")
    assert data["method"].startswith("absorbing Markov chain solved exactly")
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


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.name)
def test_show_json_is_the_map_in_its_json_form(path, tmp_path, capsys):
    # every result comes as JSON with --json (README); show refused the option
    from journeysim import load_journey

    assert main(["show", str(path), "--json"]) == 0
    copy = tmp_path / "map.json"
    copy.write_text(capsys.readouterr().out, encoding="utf-8")
    assert load_journey(copy) == load_journey(path)


def test_validate_json_lists_every_map_with_its_problems(tmp_path, capsys):
    # the README promises --json for every result; validate refused it (unrecognized arguments, exit 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("entry: {a: 1}\ntouchpoints: {a: {}, b: {goal: true}}\ntransitions: {a: {b: 1.2}}\n")
    assert main(["validate", str(BUNDLED_MAPS[0]), str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["maps"][0] == {"source": str(BUNDLED_MAPS[0]), "ok": True, "errors": [], "warnings": []}
    assert out["maps"][1]["ok"] is False
    assert f"{bad}: touchpoint 'a': edge to 'b': probability 1.2 is outside [0, 1]" in out["maps"][1]["errors"]
    assert main(["validate", *map(str, BUNDLED_MAPS), "--json"]) == 0
    assert all(m["ok"] for m in json.loads(capsys.readouterr().out)["maps"])


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


def test_version():
    assert run_cli("--version").stdout.strip() == f"journeysim {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    # In-process: each command's module is imported once for the whole test session.
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: journeysim {command}")


@pytest.mark.parametrize("option, message", [
    (("--customers", "10"), "--customers belongs to the montecarlo engine, not to --engine exact"),
    (("--horizon", "5"), "--horizon belongs to the montecarlo engine, not to --engine exact"),
    (("--backend", "numpy"), "--backend belongs to the montecarlo engine, not to --engine exact"),
    (("--days", "3"), "--days belongs to the agents engine, not to --engine exact"),
    (("--csv", "out"), "--csv belongs to the agents engine, not to --engine exact"),
    (("--seed", "1"), "--seed belongs to the sampling engines (montecarlo, agents), not to --engine exact"),
])
def test_exact_engine_refuses_sampling_options(option, message, capsys):
    # They used to be ignored silently: '--customers 10' looked like a 10-customer run.
    assert main(["simulate", str(BUNDLED_MAPS[0]), *option]) == 2
    assert capsys.readouterr().err.strip() == f"journeysim simulate: error: {message}"


@pytest.mark.parametrize("command", ["validate", "show", "simulate"])
def test_empty_map_file_is_one_line_not_a_traceback(tmp_path, command):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    result = run_cli(command, str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(f"{path}: the file is empty (no YAML or JSON content)")


def test_ctrl_c_while_the_commands_load_is_not_a_traceback(monkeypatch, capsys):
    import journeysim.cli as cli

    def interrupted(command=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["--version"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    # `journeysim show MAP | head -1` used to end in a BrokenPipeError traceback.
    import os

    import yaml

    names = [f"touchpoint {i}" for i in range(300)]
    rows = {a: {b: 0.5, "buy": 0.1} for a, b in zip(names, names[1:])}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump({"entry": {names[0]: 1}, "touchpoints": {**{n: {} for n in names},
                                    "buy": {"goal": True}}, "transitions": rows}), encoding="utf-8")
    read, write = os.pipe()
    os.close(read)                                   # the reader is gone before the first write
    try:
        result = subprocess.run([sys.executable, "-m", "journeysim.cli", "show", str(path)], stdout=write,
                                stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert result.returncode == 141 and "Traceback" not in result.stderr, result.stderr


def test_validate_counts_read_as_english(capsys):
    assert main(["validate", str(SCENARIOS / "online-store-live-chat.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith("valid (9 touchpoints, 1 goal, no segments)")
