"""Resumable runs keyed by content: what changed is rerun, nothing else; a killed run resumes to a clean run's rows."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

import journeysim.whatif.runs as runs
from journeysim.cli import main
from journeysim.errors import OutputError
from journeysim.whatif.plan import load_plan
from journeysim.whatif.runs import COLUMNS, run_plan

MAP_A = """\
entry: {ad: 1}
touchpoints: {ad: {}, cart: {}, buy: {goal: true}}
transitions: {ad: {cart: 0.3}, cart: {buy: 0.4}}
observations: counts-a.yaml
"""
MAP_B = """\
entry: {mail: 1}
touchpoints: {mail: {}, buy: {goal: true}}
transitions: {mail: {buy: 0.05}}
"""
FILES = {
    "maps/a.yaml": MAP_A,
    "maps/counts-a.yaml": "{ad: 400, cart: 120, entry: 400}\n",
    "maps/b.yaml": MAP_B,
    "hyp/ha.yaml": "baseline: ../maps/a.yaml\nchanges: [{scale: {from: cart, to: buy, by: [1.1, 1.3]}}]\n",
    "hyp/hb.yaml": "baseline: ../maps/b.yaml\nchanges: [{scale: {from: mail, to: buy, by: [1.0, 1.5]}}]\n",
    "hyp/hb2.yaml": "baseline: ../maps/b.yaml\nchanges: [{set: {from: mail, to: buy, p: [0.05, 0.08]}}]\n",
    "plans/plan.yaml": """\
plan: state test
hypotheses:
  - ../hyp/ha.yaml
  - file: ../hyp/hb.yaml
    sweep: {"changes[0].scale.by": [[1.0, 1.2], [1.2, 1.6]]}
  - ../hyp/hb2.yaml
seeds: [1, 2]
draws: 60
""",
}
# Which items read which file: (hypothesis file, sweep values, seed) per item, in plan order.
READERS = {
    "hyp/ha.yaml": 2, "maps/a.yaml": 2, "maps/counts-a.yaml": 2, "hyp/hb.yaml": 4, "maps/b.yaml": 6, "hyp/hb2.yaml": 2,
}
EDITS = {
    "hyp/ha.yaml": ("[1.1, 1.3]", "[1.3, 1.6]"),
    "maps/a.yaml": ("buy: 0.4", "buy: 0.5"),
    "maps/counts-a.yaml": ("cart: 120", "cart: 30"),
    "maps/b.yaml": ("buy: 0.05", "buy: 0.06"),
    "hyp/hb.yaml": ("mail", "mail"),          # replaced by an edit outside the swept number below
}


@pytest.fixture
def project(tmp_path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "journeysim.toml").write_text("", encoding="utf-8")   # the project: its files name each other
    return tmp_path


def _ids_reading(project: Path, name: str) -> set[str]:
    plan = load_plan(project / "plans/plan.yaml")
    target = os.path.normpath(project / name)
    return {i["id"] for i in plan.items if any(os.path.normpath(p) == target for p in i["inputs"])}


def _edit(project: Path, name: str) -> None:
    path = project / name
    if name == "hyp/hb.yaml":
        path.write_text(path.read_text() + "notes: the sweep sets the range; this note is an edit\n")
    else:
        old, new = EDITS[name]
        path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize("name", ["hyp/ha.yaml", "maps/a.yaml", "maps/counts-a.yaml", "maps/b.yaml", "hyp/hb.yaml"])
def test_resume_reruns_exactly_the_items_that_read_an_edited_file(project, monkeypatch, name):
    plan_path = project / "plans/plan.yaml"
    out = project / "out"
    first = run_plan(plan_path, outdir=out)
    assert first.ran == 8 and len(_ids_reading(project, name)) == READERS[name]
    _edit(project, name)
    ran = []
    real = runs._run_recorded
    monkeypatch.setattr(runs, "_run_recorded", lambda item: (ran.append(item["id"]), real(item))[1])
    resumed = run_plan(plan_path, outdir=out, resume=True)
    rerun = set(ran)
    assert rerun == _ids_reading(project, name) and len(ran) == READERS[name]
    assert (resumed.ran, resumed.resumed, resumed.rerun_changed) == (READERS[name], 8 - READERS[name], READERS[name])
    assert resumed.changed_files == (os.path.normpath(project / name),)
    assert f"{READERS[name]} rerun because an input changed: {os.path.normpath(project / name)}" in resumed.summary()
    fresh = run_plan(plan_path, outdir=project / "fresh")
    assert resumed.rows == fresh.rows
    for table in ("results.csv", "results.jsonl"):
        assert (out / table).read_bytes() == (project / "fresh" / table).read_bytes()
    if name != "hyp/hb.yaml":              # a real change of numbers, not only of the file's bytes
        changed = [r for r, f in zip(resumed.rows, first.rows) if r != f]
        assert {r["id"] for r in changed} == rerun
    ran.clear()
    assert run_plan(plan_path, outdir=out, resume=True).ran == 0 and ran == []


def test_the_key_does_not_depend_on_where_the_project_lives(project, tmp_path_factory):
    run_plan(project / "plans/plan.yaml", outdir=project / "out")
    moved = tmp_path_factory.mktemp("moved") / "project"
    project.rename(moved)
    again = run_plan(moved / "plans/plan.yaml", outdir=moved / "out", resume=True)
    assert (again.ran, again.resumed) == (0, 8)


def test_unreadable_item_files_are_rerun_never_half_read(project):
    plan_path = project / "plans/plan.yaml"
    out = project / "out"
    clean = run_plan(plan_path, outdir=out)
    files = sorted((out / "items").glob("*.json"))
    files[0].write_bytes(files[0].read_bytes()[:70])                      # cut short by a crash
    files[1].write_bytes(b"\xff\xfe not json")
    record = json.loads(files[2].read_text())
    files[2].write_text(json.dumps(record["row"]))                        # an item file of an older format
    record = json.loads(files[3].read_text())
    del record["row"]["lift_abs"]
    files[3].write_text(json.dumps(record))                               # whole JSON, but not a whole row
    resumed = run_plan(plan_path, outdir=out, resume=True)
    assert (resumed.ran, resumed.rerun_unreadable, resumed.rerun_changed) == (4, 4, 0)
    assert "4 item files unreadable, rerun" in resumed.summary()
    assert resumed.rows == clean.rows


def test_an_item_file_stores_its_key_and_the_hash_of_every_input(project):
    plan = load_plan(project / "plans/plan.yaml")
    run_plan(plan, outdir=project / "out")
    item = plan.items[0]
    record = json.loads((project / "out" / "items" / f"{item['id']}.json").read_text())
    assert record["format"] == "journeysim-run-item/1" and record["key"] == item["key"]
    assert [Path(p).name for p, _ in record["inputs"]] == ["ha.yaml", "a.yaml", "counts-a.yaml"]
    assert [h for _, h in record["inputs"]] == list(item["inputs"].values())
    assert list(record["row"]) == list(COLUMNS)


def test_a_new_results_version_reruns_everything_and_says_why(project, monkeypatch):
    import journeysim.whatif.plan as plan_module

    run_plan(project / "plans/plan.yaml", outdir=project / "out")
    old, new = plan_module.RESULTS_VERSION, str(int(plan_module.RESULTS_VERSION) + 1)
    monkeypatch.setattr(plan_module, "RESULTS_VERSION", new)
    monkeypatch.setattr(runs, "RESULTS_VERSION", new)
    again = run_plan(project / "plans/plan.yaml", outdir=project / "out", resume=True)
    assert again.rerun_changed == 8 and again.changed_files == (f"journeysim's results version ({old} -> {new})",)


def test_one_run_at_a_time_writes_a_results_folder(project):
    out = project / "out"
    out.mkdir()
    with FileLock(out / ".journeysim-run.lock"):
        with pytest.raises(OutputError, match="another journeysim run is writing its results here"):
            run_plan(project / "plans/plan.yaml", outdir=out)


def test_an_unwritable_results_folder_fails_before_anything_runs(project, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("computed before the output folder was checked")

    monkeypatch.setattr(runs, "_run_recorded", never)
    monkeypatch.setattr(runs, "load_plan", never)
    (project / "taken").write_text("a file where the folder would go", encoding="utf-8")
    with pytest.raises(OutputError, match="taken/out: cannot create the folder: '.*taken' is a file, not a folder"):
        run_plan(project / "plans/plan.yaml", outdir=project / "taken" / "out")
    import journeysim.whatif.plan as plan_module

    monkeypatch.setattr(plan_module, "load_plan", never)     # the CLI checks before it reads the plan
    assert main(["run", str(project / "plans/plan.yaml"), "-o", str(project / "taken" / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("taken/out: cannot create the folder: "
                        f"'{project / 'taken'}' is a file, not a folder") and len(err.splitlines()) == 1


def _killable_run(plan_path: str, out: str, workers: int) -> None:
    os.setpgrp()                  # its own process group: the kill takes its worker processes too
    run_plan(plan_path, outdir=out, workers=workers, resume=True)


def test_killed_at_random_moments_then_resumed_equals_a_clean_run(project):
    plan_path, out = str(project / "plans/plan.yaml"), project / "killed"
    started = time.perf_counter()
    clean = run_plan(plan_path, outdir=project / "clean")
    span = time.perf_counter() - started        # how long a whole run takes here: the kills land inside it
    ctx = multiprocessing.get_context("fork")
    rng = np.random.default_rng(14)
    ids = {i["id"] for i in load_plan(plan_path).items}
    for round_ in range(20):
        child = ctx.Process(target=_killable_run, args=(plan_path, str(out), 1 + round_ % 2))
        child.start()
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.setpgid(child.pid, child.pid)      # from this side too: the kill may come before the child runs
        time.sleep(rng.uniform(0, span * 0.6))
        os.killpg(child.pid, signal.SIGKILL)
        child.join()
        # Whatever the moment, every item file present is whole, and so is any results table.
        for path in (out / "items").glob("*.json") if (out / "items").exists() else ():
            state, _ = runs._saved(path, {"id": path.stem, "key": ""})
            assert state in ("changed", "current"), f"round {round_}: {path.name} is not a whole item file"
        if (out / "results.jsonl").exists():
            assert len((out / "results.jsonl").read_text().splitlines()) == 8
    resumed = run_plan(plan_path, outdir=out, resume=True)
    assert resumed.rows == clean.rows
    assert [r["id"] for r in resumed.rows] == [r["id"] for r in clean.rows] and len(ids) == 8
    assert sorted(p.stem for p in (out / "items").iterdir()) == sorted(ids)     # no duplicate, none missing,
    assert [p.name for p in out.glob(".*.tmp")] == []                           # no temporary file left
    for table in ("results.csv", "results.jsonl"):
        assert (out / table).read_bytes() == (project / "clean" / table).read_bytes()
