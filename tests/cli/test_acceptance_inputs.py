"""Regressions found by acceptance testing the README as a new user: bad input a real user produces
(folders for files, unwritable outputs, spreadsheet exports, an unreachable Dask scheduler, a closed pipe)
must give one clear line and the right exit code, never a traceback or a half-written file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from journeysim._files import write_atomic
from journeysim.cli import main
from journeysim.errors import OutputError

ROOT = Path(__file__).resolve().parents[2]
PREDICTION = ROOT / "experiments" / "live-chat.prediction.json"
AGGREGATED = ROOT / "experiments" / "live-chat.aggregated.csv"
LEDGER = ROOT / "experiments" / "ledger.csv"
PLAN = ROOT / "scenarios" / "plans" / "next-quarter.yaml"

PER_CUSTOMER = ("user_id,variant,converted,revenue\n"
                "1,control,yes,0\n2,control,no,0\n3,control,yes,5\n4,B,yes,7\n5,B,no,0\n6,B,yes,3\n7,B,no,0\n")


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_write_atomic_refuses_a_folder_or_a_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="it is a folder"):
        write_atomic(tmp_path, "x")
    with pytest.raises(OutputError, match="folder '.*nowhere' does not exist") as info:
        write_atomic(tmp_path / "nowhere" / "out.json", "x")
    assert isinstance(info.value, OSError)  # callers that handle failed writes still catch it
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("argv", [
    ["ledger", LEDGER, "--plot", "{tmp}"],
    ["ledger", LEDGER, "--plot", "{tmp}/missing/plot.png"],
    ["calibrate", PREDICTION, AGGREGATED, "--hypothesis", ROOT / "scenarios/hypotheses/live-chat.yaml",
     "-o", "{tmp}"],
])
def test_unwritable_output_is_one_line_exit_1(tmp_path, capsys, argv):
    argv = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "cannot write" in err
    assert list(tmp_path.iterdir()) == []


def test_ledger_that_is_a_folder_or_not_utf8(tmp_path, capsys):
    code, _, err = _run(["ledger", tmp_path], capsys)
    assert code == 1 and "cannot read" in err
    code, _, err = _run(["check", PREDICTION, AGGREGATED, "--ledger", tmp_path], capsys)
    assert code == 1 and "is a folder" in err
    bad = tmp_path / "ledger.csv"
    bad.write_bytes(b"checked_at\n\xff\xfe\n")
    code, _, err = _run(["check", PREDICTION, AGGREGATED, "--ledger", bad], capsys)
    assert code == 1 and "not a journeysim ledger header" in err
    assert bad.read_bytes() == b"checked_at\n\xff\xfe\n"  # never rewritten
    header = (Path(PREDICTION).parent / "ledger.csv").read_bytes().splitlines()[0]
    bad.write_bytes(header + b"\n\xff\xfe\n")
    code, _, err = _run(["check", PREDICTION, AGGREGATED, "--ledger", bad], capsys)
    assert code == 1 and "not UTF-8" in err
    assert bad.read_bytes() == header + b"\n\xff\xfe\n"


def _analysis(path, capsys):
    code, out, _ = _run(["analyze", path, "--json"], capsys)
    assert code == 0
    return json.loads(out)["variants"]


def test_spreadsheet_exports_with_bom_semicolons_or_tabs(tmp_path, capsys):
    plain = tmp_path / "plain.csv"
    plain.write_text(PER_CUSTOMER, encoding="utf-8")
    expected = _analysis(plain, capsys)
    assert expected["B"]["customers"] == 4 and expected["B"]["conversions"] == 2
    bom = tmp_path / "bom.csv"
    bom.write_text(PER_CUSTOMER, encoding="utf-8-sig")
    semi = tmp_path / "semi.csv"
    semi.write_text(PER_CUSTOMER.replace(",", ";"), encoding="utf-8-sig")
    tab = tmp_path / "tab.csv"
    tab.write_text(PER_CUSTOMER.replace(",", "\t"), encoding="utf-8")
    for path in (bom, semi, tab):
        assert _analysis(path, capsys) == expected


def test_results_with_a_repeated_column_or_a_folder(tmp_path, capsys):
    dup = tmp_path / "dup.csv"
    dup.write_text("user_id,user_id,variant,converted\n1,1,control,1\n2,2,B,0\n", encoding="utf-8")
    code, _, err = _run(["analyze", dup], capsys)
    assert code == 1 and err.strip() == f"{dup}: column 'user_id' appears more than once in the header"
    code, _, err = _run(["analyze", tmp_path], capsys)
    assert code == 1 and err.strip() == f"{tmp_path}: is a folder, not a results file"


def test_fit_empty_file_and_folder(tmp_path, capsys):
    empty = tmp_path / "log.csv"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "map.yaml"
    code, _, err = _run(["fit", empty, "-o", out], capsys)
    assert code == 1 and err.strip() == f"{empty}: empty file (expected a header row and data rows)"
    code, _, err = _run(["attribute", tmp_path], capsys)
    assert code == 1 and "is a folder" in err
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["validate", "{folder}"], ["show", "{folder}"], ["simulate", "{folder}"], ["predict", "{folder}"],
    ["design", "{folder}"], ["check", "{folder}", AGGREGATED, "--no-ledger"], ["reevaluate", "{folder}", "{folder}"],
])
def test_a_folder_named_as_a_map_hypothesis_or_prediction(tmp_path, capsys, argv):
    folder = tmp_path / "map.yaml"
    folder.mkdir()
    code, _, err = _run([str(a).format(folder=folder) for a in argv], capsys)
    assert code == 1 and f"{folder}: is a folder, not a file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, victim", [
    (["fit", "{tmp}/log.csv", "-o", "{tmp}/log.csv", "--goal", "purchase"], "log.csv"),
    (["fit", "{tmp}/log.csv", "-o", "{tmp}/./log.csv", "--goal", "purchase"], "log.csv"),
    (["ledger", "{tmp}/ledger.csv", "--plot", "{tmp}/ledger.csv"], "ledger.csv"),
    (["predict", "{tmp}/h/live-chat.yaml", "--draws", "20", "--seed", "1", "--save", "{tmp}/h/live-chat.yaml"],
     "h/live-chat.yaml"),
    (["predict", "{tmp}/h/live-chat.yaml", "--draws", "20", "--seed", "1", "--save", "{tmp}/online-store.yaml",
      "--allow-outside"], "online-store.yaml"),
    (["export", "{tmp}/online-store.yaml", "--to", "json", "-o", "{tmp}/online-store.yaml"], "online-store.yaml"),
    (["import", "{tmp}/map.json", "-o", "{tmp}/map.json"], "map.json"),
    (["calibrate", PREDICTION, "{tmp}/ab.csv", "-o", "{tmp}/ab.csv"], "ab.csv"),
])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, capsys, argv, victim):
    # each replaced its own input: the event log became the fitted map, the ledger a PNG, the map a prediction
    (tmp_path / "h").mkdir()
    shutil.copy(ROOT / "scenarios" / "events" / "online-store-2026.csv", tmp_path / "log.csv")
    shutil.copy(LEDGER, tmp_path / "ledger.csv")
    shutil.copy(ROOT / "scenarios" / "online-store.yaml", tmp_path / "online-store.yaml")
    shutil.copy(ROOT / "scenarios" / "hypotheses" / "live-chat.yaml", tmp_path / "h" / "live-chat.yaml")
    shutil.copy(AGGREGATED, tmp_path / "ab.csv")
    assert main(["export", str(tmp_path / "online-store.yaml"), "--to", "json", "-o", str(tmp_path / "map.json")]) == 0
    capsys.readouterr()
    before = (tmp_path / victim).read_bytes()
    code, _, err = _run([str(a).format(tmp=tmp_path) for a in argv], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cannot write: it is an input of this command" in err and "write the output to another file" in err
    assert (tmp_path / victim).read_bytes() == before


def test_unreachable_dask_scheduler_is_a_usage_error(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    shutil.copy(PLAN, plan)
    plan.write_text(plan.read_text(encoding="utf-8").replace("../hypotheses/", f"{ROOT}/scenarios/hypotheses/"),
                    encoding="utf-8")
    for address in ("tcp://127.0.0.1:1", "not-an-address"):
        code, _, err = _run(["run", plan, "-o", tmp_path / "out", "--scheduler", address, "--allow-outside"], capsys)
        assert code == 2
        assert f"--scheduler {address}: cannot reach a Dask scheduler there" in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_closed_output_pipe_is_not_a_traceback(tmp_path):
    # like `journeysim ledger | head -0`: the reading end is closed before the command starts, so that its first
    # write meets a closed pipe however the machine schedules the two processes (closing it after the start raced
    # a loaded machine: the output fit in the pipe's buffer before the close, and the command exited 0)
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.Popen([sys.executable, "-m", "journeysim", "ledger", str(LEDGER)], cwd=tmp_path,
                            stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert err == ""


def test_one_customer_per_arm_gives_null_revenue_test_without_warnings(tmp_path, capsys):
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("user_id,variant,converted,revenue\n1,control,1,-5\n2,B,0,1\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's 0/0 warning would leak to the user's terminal
        code, out, err = _run(["analyze", tiny, "--json"], capsys)
    assert code == 0 and err == ""
    b = json.loads(out)["variants"]["B"]
    assert b["revenue_diff"] == 6.0 and b["revenue_pvalue"] is None and b["revenue_diff_ci"] is None
