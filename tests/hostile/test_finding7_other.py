"""Finding 7: a prediction naming /etc/shadow printed a line of it; kill -9 mid-report left temporaries and a
report folder with new pictures but an old page; ``p: [0.5, 0.5]`` said ``probability nan``; a plan's
``customers: 1e3`` was refused; the same hypothesis named two ways ran twice; RuntimeWarning text leaked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from journeysim._files import write_atomic, write_folder
from journeysim.cli import main
from journeysim.errors import OutputError, ScenarioError
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
SHADOW = "root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n"


def project(tmp_path: Path) -> Path:
    """A project folder with the bundled map and hypothesis."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copy(ROOT / "scenarios" / "online-store.yaml", tmp_path)
    hypothesis = yaml.safe_load((ROOT / "scenarios" / "hypotheses" / "live-chat.yaml").read_text(encoding="utf-8"))
    hypothesis["baseline"] = "online-store.yaml"
    (tmp_path / "hyp.yaml").write_text(yaml.safe_dump(hypothesis), encoding="utf-8")
    return tmp_path


def test_a_prediction_naming_a_foreign_file_never_prints_it(tmp_path, capsys):
    project(tmp_path)
    (tmp_path / "shadow").write_text(SHADOW, encoding="utf-8")
    body = json.loads((ROOT / "experiments" / "live-chat.prediction.json").read_text(encoding="utf-8"))
    results = str(ROOT / "experiments" / "live-chat.results.csv")
    for target in ("shadow", "/etc/shadow"):
        body["hypothesis_file"] = target
        body["inputs"] = {}
        (tmp_path / "p.json").write_text(json.dumps(body), encoding="utf-8")
        assert main(["calibrate", str(tmp_path / "p.json"), results, "-o", str(tmp_path / "out.yaml")]) == 1
        err = capsys.readouterr().err
        assert "daemon" not in err and "20228" not in err and len(err.strip().splitlines()) == 1, err
        assert "not a hypothesis" in err if target == "shadow" else "is outside" in err
    assert not (tmp_path / "out.yaml").exists()


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from journeysim._files import write_atomic, write_folder
target, kind = Path(sys.argv[1]), sys.argv[2]
if kind == "folder":
    real = Path.write_bytes
    def write_bytes(self, data):
        real(self, data)
        if self.name == "b.png":           # the new pictures are written, the page not yet
            os.kill(os.getpid(), signal.SIGKILL)
    Path.write_bytes = write_bytes
    write_folder(target, {"a.png": b"new a", "b.png": b"new b", "report.html": "new page"}, "report")
else:
    os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
    write_atomic(target, "new")
"""


def _killed(target: Path, kind: str) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target), kind], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr


def test_kill_9_mid_report_leaves_the_old_report_and_a_temporary_the_next_run_removes(tmp_path):
    report = tmp_path / "report"
    write_folder(report, {"a.png": b"old a", "b.png": b"old b", "report.html": "old page"}, "report")
    _killed(report, "folder")
    assert (report / "report.html").read_text() == "old page" and (report / "b.png").read_bytes() == b"old b"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "report"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".report.") and leftovers[0].endswith(".tmp")
    write_folder(report, {"a.png": b"new a", "report.html": "new page"}, "report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert sorted(p.name for p in report.iterdir()) == [".journeysim", "a.png", "report.html"]


def test_kill_9_mid_write_leaves_a_temporary_the_next_write_removes(tmp_path):
    target = tmp_path / "ledger.csv"
    write_atomic(target, "old")
    _killed(target, "file")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 2
    write_atomic(target, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.csv"] and target.read_text() == "new"


def test_a_report_folder_with_other_files_is_refused_not_emptied(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds files journeysim did not write"):
        write_folder(tmp_path, {"report.html": "page"}, "report")
    assert main(["report", "simulate", str(ROOT / "scenarios" / "online-store.yaml"), "-o", str(tmp_path)]) == 2
    assert "holds files journeysim did not write" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_degenerate_range_is_refused_in_words(tmp_path):
    project(tmp_path)
    (tmp_path / "h.yaml").write_text("hypothesis: h\nbaseline: online-store.yaml\n"
                                     "changes: [{set: {from: cart, to: purchase, p: [0.5, 0.5]}}]\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_hypothesis(tmp_path / "h.yaml")
    assert str(info.value).endswith("range [0.5, 0.5] has no width (write the number 0.5 for a value that is known)")
    assert "nan" not in str(info.value)


def test_a_plan_takes_1e3_and_refuses_one_file_named_two_ways(tmp_path):
    project(tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text("hypotheses: [hyp.yaml]\nengines: [montecarlo]\ncustomers: 1e3\ndraws: 2e1\n", encoding="utf-8")
    assert [(i["size"], i["draws"]) for i in load_plan(plan).items] == [(1000, 20)]
    plan.write_text("hypotheses: [hyp.yaml, ./hyp.yaml]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"hypotheses\[1\]: './hyp.yaml' is the file hypotheses\[0\] names as "
                                            r"'hyp.yaml'"):
        load_plan(plan)


def test_library_warnings_are_one_line_notes(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text("entry: {ad: 1}\ntouchpoints: {ad: {}, buy: {goal: true, value: 1.7e308}}\n"
                    "transitions: {ad: {buy: 0.5, ad: 0.49}}\n", encoding="utf-8")
    assert main(["simulate", str(path), "--engine", "montecarlo", "--customers", "2000", "--seed", "1",
                 "--backend", "numpy"]) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["journeysim simulate: note: overflow encountered in matmul (RuntimeWarning)"], err
