"""A command loads only what it uses: the command table names every command without importing it."""

import json
import subprocess
import sys

import pytest

from journeysim.cli import COMMANDS, main

from tests.conftest import ROOT, SCENARIOS

HEAVY = ("numba", "duckdb", "pandas", "dask", "matplotlib", "statsmodels", "scipy.stats")


def loaded_after(code: str) -> list[str]:
    """The heavy modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_journeysim_loads_no_heavy_library():
    assert loaded_after("import journeysim") == []


@pytest.mark.parametrize("argv", [["--help"], [], ["validate", str(SCENARIOS / "online-store.yaml")],
                                  ["simulate", "--help"], ["analyze", "--help"]])
def test_help_and_validate_load_no_heavy_library(argv):
    run = f"from journeysim.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert loaded_after(run) == []


def test_plain_journeysim_prints_the_command_list(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: journeysim")
    assert all(f"    {name} " in out or f"    {name}\n" in out for name in COMMANDS)


def test_the_table_names_one_module_per_command():
    cli = ROOT / "journeysim" / "cli"
    modules = {module for _, module in COMMANDS.values()}
    assert {f"journeysim.cli.{p.stem}" for p in cli.glob("*.py") if not p.stem.startswith("_")} == modules


def test_a_mistyped_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["simualte", "x.yaml"])
    assert done.value.code == 2
    assert "invalid choice: 'simualte'" in capsys.readouterr().err
