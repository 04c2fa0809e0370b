"""A ledger many people append to: locked whole-row appends, nothing written unasked, torn lines, --verify."""

import csv
import dataclasses
import io
import multiprocessing
import shutil
import warnings
from pathlib import Path

import pytest

from journeysim.cli import main
from journeysim.errors import DataError
from journeysim.experiments import Arm, ExperimentData, analyze_experiment
from journeysim.experiments.check import LEDGER_COLUMNS, LedgerWarning, append_to_ledger, check_prediction
from journeysim.experiments.ledger import read_ledger, summarize_ledger
from journeysim.experiments.verify import verify_ledger
from journeysim.whatif.prediction import Prediction

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "experiments"
PREDICTION = EXAMPLES / "live-chat.prediction.json"
AGGREGATED = EXAMPLES / "live-chat.aggregated.csv"
WRITERS, ROWS_EACH = 8, 50


def _check():
    pred = Prediction("chat", "conversion_rate", baseline=0.05, variant=0.055, lift_abs=0.005, lift_rel=0.10,
                      interval_level=0.9, lift_abs_interval=(0.001, 0.009), lift_rel_interval=(0.02, 0.18))
    ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 40000, 2000),
                                                 "chat": Arm("chat", 40000, 2180)})
    return check_prediction(pred, analyze_experiment(ab))


def _writer(ledger: str, writer: int, start, check) -> None:
    start.wait()                          # every writer starts at once: the appends contend for the lock
    for i in range(ROWS_EACH):
        # Distinct files' hashes: the duplicate scan runs on every append and must refuse none of them.
        row = dataclasses.replace(check, hypothesis=f"writer {writer} row {i}",
                                  prediction_sha256=f"sha256:p{writer}-{i}", results_sha256=f"sha256:r{writer}-{i}")
        append_to_ledger(ledger, row)


def test_eight_processes_append_400_rows_each_exactly_once(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(WRITERS)
    check = _check()
    procs = [ctx.Process(target=_writer, args=(str(ledger), w, start, check)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    text = ledger.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == ",".join(LEDGER_COLUMNS) and text.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == WRITERS * ROWS_EACH == len(lines) - 1
    assert all(None not in r and len(r) == len(LEDGER_COLUMNS) for r in rows)      # no torn or glued rows
    assert sorted(r["hypothesis"] for r in rows) == sorted(
        f"writer {w} row {i}" for w in range(WRITERS) for i in range(ROWS_EACH))
    for w in range(WRITERS):    # each writer's rows in its own order: appends are not reordered
        mine = [int(r["hypothesis"].split()[-1]) for r in rows if r["hypothesis"].startswith(f"writer {w} ")]
        assert mine == list(range(ROWS_EACH))
    assert len(read_ledger(ledger)) == 400


def test_check_without_a_ledger_writes_nothing(tmp_path, monkeypatch, capsys):
    shutil.copytree(EXAMPLES, tmp_path / "experiments")
    monkeypatch.chdir(tmp_path)
    ledger = tmp_path / "experiments" / "ledger.csv"
    before = ledger.read_bytes()
    listing = sorted(p.name for p in (tmp_path / "experiments").iterdir())
    assert main(["check", "experiments/live-chat.prediction.json", "experiments/live-chat.results.csv"]) == 0
    captured = capsys.readouterr()
    assert "verdict" in captured.out
    hint = captured.err.strip()
    assert hint.startswith("not recorded: give --ledger FILE") and len(hint.splitlines()) == 1
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "experiments").iterdir()) == listing    # no lock file either
    assert main(["check", "experiments/live-chat.prediction.json", "experiments/live-chat.results.csv",
                 "--force"]) == 2
    assert "--force has no effect without a ledger" in capsys.readouterr().err


def test_the_project_config_names_the_ledger_and_options_override_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "journeysim.toml").write_text('ledger = "records/ledger.csv"\n', encoding="utf-8")
    (tmp_path / "records").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")          # found in a parent folder, the ledger relative to the file
    args = [str(PREDICTION), str(AGGREGATED)]
    assert main(["check", *args, "--no-ledger"]) == 0
    assert not (tmp_path / "records" / "ledger.csv").exists()
    assert main(["check", *args, "--verbose"]) == 0
    err = capsys.readouterr().err
    assert f"config {tmp_path / 'journeysim.toml'}: ledger {tmp_path / 'records' / 'ledger.csv'}" in err
    assert len(read_ledger(tmp_path / "records" / "ledger.csv")) == 1
    assert main(["check", *args, "--ledger", str(tmp_path / "other.csv")]) == 0
    assert len(read_ledger(tmp_path / "other.csv")) == 1
    assert len(read_ledger(tmp_path / "records" / "ledger.csv")) == 1
    assert main(["ledger", "--json"]) == 0                     # `ledger` reads the config's ledger too
    assert '"checks": 1' in capsys.readouterr().out


def test_a_repeat_is_refused_unless_forced_and_the_row_carries_both_hashes(tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    args = ["check", str(PREDICTION), str(AGGREGATED), "--ledger", str(ledger)]
    assert main(args) == 0
    row = next(csv.DictReader(io.StringIO(ledger.read_text())))
    assert row["prediction_sha256"].startswith("sha256:") and row["results_sha256"].startswith("sha256:")
    before = ledger.read_bytes()
    capsys.readouterr()
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "already records this prediction checked against this result" in captured.err
    assert "verdict" in captured.out                   # the check is shown though not recorded again
    assert ledger.read_bytes() == before
    assert main([*args, "--force"]) == 0
    assert len(read_ledger(ledger)) == 2


def test_a_torn_last_line_is_reported_and_only_it_is_ignored(tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    for x in (2100, 2180):
        check = _check()
        append_to_ledger(ledger, dataclasses.replace(check, results_sha256=f"sha256:{x}"))
    whole = ledger.read_bytes()
    torn = whole + whole.splitlines(keepends=True)[1][:57]
    ledger.write_bytes(torn)
    with pytest.warns(LedgerWarning, match=r"line 4 is incomplete \(an interrupted write\?\) and was skipped"):
        assert len(read_ledger(ledger)) == 2
    assert main(["ledger", str(ledger), "--json"]) == 0
    captured = capsys.readouterr()
    assert '"checks": 2' in captured.out
    assert captured.err.startswith("journeysim ledger: warning: ") and "line 4 is incomplete" in captured.err
    assert ledger.read_bytes() == torn                          # reading never repairs
    with pytest.warns(LedgerWarning, match="dropped an incomplete last line"):
        append_to_ledger(ledger, dataclasses.replace(_check(), results_sha256="sha256:3"))
    assert ledger.read_bytes().startswith(whole)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # whole again: no warning
        assert [e.line for e in read_ledger(ledger)] == [2, 3, 4]


def test_a_whole_last_row_without_its_newline_is_kept(tmp_path):
    ledger = tmp_path / "ledger.csv"
    append_to_ledger(ledger, _check())
    ledger.write_bytes(ledger.read_bytes().rstrip(b"\n"))      # saved by an editor that drops the last newline
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_ledger(ledger)) == 1
        append_to_ledger(ledger, dataclasses.replace(_check(), results_sha256="sha256:other"))
    assert len(read_ledger(ledger)) == 2 and ledger.read_text().count("\n") == 3


def test_verify_names_changed_and_missing_files(tmp_path, monkeypatch, capsys):
    for f in (PREDICTION, AGGREGATED, EXAMPLES / "live-chat.results.csv"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    for results in ("live-chat.aggregated.csv", "live-chat.results.csv"):
        assert main(["check", "live-chat.prediction.json", results, "--ledger", "ledger.csv"]) == 0
    assert main(["ledger", "--verify", "ledger.csv"]) == 0
    assert "2 rows, 4 files: 4 match" in capsys.readouterr().out
    with open("live-chat.aggregated.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")                                          # one byte changes the hash
    Path("live-chat.results.csv").unlink()
    assert main(["ledger", "--verify", "ledger.csv"]) == 1
    out = capsys.readouterr().out
    assert "live-chat.aggregated.csv" in out and "changed since the check" in out
    assert "4 files: 2 match, 1 changed since the check, 1 missing (not verified)" in out
    v = verify_ledger("ledger.csv")
    assert [f.status for f in v.files] == ["matches", "changed", "matches", "missing"] and not v.ok
    monkeypatch.chdir(ROOT / "scenarios")               # paths as written resolve from the ledger's parents
    assert verify_ledger(tmp_path / "ledger.csv").counts["changed"] == 1
    assert main(["ledger", "--verify", str(tmp_path / "ledger.csv"), "--plot", "x.png"]) == 2


def test_an_unwritable_ledger_fails_before_the_analysis(tmp_path, monkeypatch, capsys):
    import importlib

    check_module = importlib.import_module("journeysim.experiments.check")   # the package's `check` is the verb

    def never(*a, **k):
        raise AssertionError("the check was computed before the ledger was found unwritable")

    monkeypatch.setattr(check_module, "check_prediction", never)
    assert main(["check", str(PREDICTION), str(AGGREGATED), "--ledger", str(tmp_path / "no" / "ledger.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{tmp_path / 'no' / 'ledger.csv'}: cannot write: folder '{tmp_path / 'no'}' does not exist"


def test_summary_of_a_ledger_with_a_torn_header_only(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("checked_at,hypo", encoding="utf-8")
    with pytest.warns(LedgerWarning, match="line 1 is incomplete"):
        assert summarize_ledger(ledger).checks == 0
    with pytest.raises(DataError, match="not UTF-8"):
        ledger.write_bytes(b"checked_at\n\xff\xfe\n")
        append_to_ledger(ledger, _check())


def test_a_file_that_is_not_a_ledger_is_refused_before_the_analysis(tmp_path, monkeypatch, capsys):
    import journeysim.experiments.check as check_module

    def too_late(*args, **kwargs):
        raise AssertionError("the analysis ran before the ledger was looked at")

    monkeypatch.setattr(check_module, "check_prediction", too_late)
    results = tmp_path / "results.csv"
    results.write_bytes((EXAMPLES / "live-chat.results.csv").read_bytes())
    code = main(["check", str(PREDICTION), str(results), "--ledger", str(results)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith(f"{results}: line 1: not a journeysim ledger header")
    assert results.read_bytes() == (EXAMPLES / "live-chat.results.csv").read_bytes()
    torn = tmp_path / "torn.csv"
    torn.write_text("checked_at,hypo", encoding="utf-8")          # a torn header alone: the append repairs it
    check_module.check_ledger_file(torn)
