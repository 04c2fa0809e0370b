"""A command loads only what it uses: the command table names every command without importing it."""

import ast
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


def test_commands_import_no_other_command():
    # Shared parsing lives in the private helpers (journeysim/cli/_*.py); logic lives in the library.
    cli = ROOT / "journeysim" / "cli"
    commands = {module for _, module in COMMANDS.values()}
    for module in sorted(commands):
        tree = ast.parse((cli / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        assert imported & (commands - {module}) == set(), f"{module} imports another command"


def test_a_mistyped_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["simualte", "x.yaml"])
    assert done.value.code == 2
    assert "invalid choice: 'simualte'" in capsys.readouterr().err


# Every command that writes a file, its output a file inside a file (nothing can be written there), and inputs that
# exist: the output must be refused before the inputs are read and before the libraries that do the work are loaded.
_WRITERS = [
    ["predict", "scenarios/hypotheses/live-chat.yaml", "--seed", "1", "--save", "{out}"],
    ["run", "scenarios/plans/next-quarter.yaml", "-o", "{out}"],
    ["check", "experiments/live-chat.prediction.json", "experiments/live-chat.results.csv", "--ledger", "{out}"],
    ["ledger", "experiments/ledger.csv", "--plot", "{out}"],
    ["calibrate", "experiments/live-chat.prediction.json", "experiments/live-chat.results.csv", "-o", "{out}"],
    ["fit", "scenarios/events/online-store-2026.csv", "--goal", "purchase", "-o", "{out}"],
    ["simulate", "scenarios/online-store-live-chat.yaml", "--engine", "agents", "--days", "7", "--csv", "{out}"],
    ["report", "simulate", "scenarios/online-store.yaml", "-o", "{out}"],
    ["export", "scenarios/online-store.yaml", "--to", "graphml", "-o", "{out}"],
    ["import", "{graphml}", "-o", "{out}"],
]


@pytest.mark.parametrize("argv", _WRITERS, ids=lambda argv: argv[0])
def test_an_unwritable_output_fails_before_any_heavy_library_loads(tmp_path, argv):
    # Not timed: loading pandas, statsmodels or numba takes seconds on a busy machine, and a refused output must
    # come back at once (issue 14), so the refusal must precede those imports.
    (tmp_path / "file").write_text("", encoding="utf-8")
    graphml = tmp_path / "map.graphml"
    if "{graphml}" in argv:
        assert main(["export", str(SCENARIOS / "online-store.yaml"), "--to", "graphml", "-o", str(graphml)]) == 0
    args = [a.format(out=tmp_path / "file" / "out", graphml=graphml) for a in argv]
    run = (f"from journeysim.cli import main\ncode = main({args!r})\n"
           "assert code == 1, code")
    assert loaded_after(run) == []
