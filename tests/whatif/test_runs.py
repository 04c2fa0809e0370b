"""Batch plans: expansion, local processes and Dask give identical rows, resuming reruns nothing."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import journeysim.whatif.runs as runs
from journeysim.cli import main
from journeysim.errors import ScenarioError
from journeysim.whatif.plan import load_plan
from journeysim.whatif.prediction import predict
from journeysim.whatif.runs import COLUMNS, local_cluster, run_plan

ROOT = Path(__file__).resolve().parents[2]
HYPOTHESES = ROOT / "scenarios" / "hypotheses"
#: The bundled hypothesis as plans in tmp_path name it: a copy beside them (a plan's files stay in its project).
LIVE_CHAT = "scenarios/hypotheses/live-chat.yaml"


def write_plan(tmp_path: Path, **changes) -> Path:
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    for source in [*(ROOT / "scenarios").glob("*.yaml"), HYPOTHESES]:
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / "scenarios" / source.name, **({"dirs_exist_ok": True} if source.is_dir() else {}))
    plan = {
        "plan": "test plan",
        "hypotheses": [
            LIVE_CHAT,
            {"file": LIVE_CHAT,
             "sweep": {"changes[0].from.cart.p": [0.05, 0.25], "changes[1].scale.by": [0.6, [0.7, 0.8]]}},
        ],
        "engines": ["exact"],
        "seeds": [1, 2],
        "draws": 100,
        **changes,
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def test_plan_expands_hypotheses_sweeps_engines_and_seeds(tmp_path):
    plan = load_plan(write_plan(tmp_path))
    assert len(plan.items) == (1 + 2 * 2) * 2
    assert [i["sweep"] for i in plan.items[2:4]] == [{"changes[0].from.cart.p": 0.05, "changes[1].scale.by": 0.6}] * 2
    assert plan.items[8]["sweep"] == {"changes[0].from.cart.p": 0.25, "changes[1].scale.by": [0.7, 0.8]}
    assert len({i["id"] for i in plan.items}) == len(plan.items)
    assert [i["id"] for i in load_plan(write_plan(tmp_path)).items] == [i["id"] for i in plan.items]


@pytest.mark.parametrize("changes, message", [
    ({"engines": ["exactt"]}, "engine 'exactt' (did you mean 'exact'?) is not one of"),
    ({"seeds": [-1]}, "seeds: -1 must be a whole number >= 0"),
    ({"hypotheses": [{"file": LIVE_CHAT, "sweep": {"changes[5].p": [1]}}]},
     "hypotheses[0]: sweep path 'changes[5].p' is not a number in"),
    ({"hypotheses": [{"file": LIVE_CHAT, "sweep": {"changes[0].from.cart.p": [1.5]}}]},
     "change 0 (add): from 'cart': edge to 'live chat': probability 1.5 is outside [0, 1]"),
    ({"draws": 0}, "draws: 0 must be a whole number >= 1"),
    ({"engines": ["exact", "agents"]}, "online-store.yaml: the agents engine needs 'arrivals"),
    ({"sedes": [1]}, "unknown key 'sedes' (did you mean 'seeds'?)"),
    # draws: 1 exited 2 with predict's message, naming no plan; customers and days with no engine to read them
    # were silently ignored
    ({"draws": 1}, "hypotheses[0]: draws: 1 gives no interval: 'scenarios/hypotheses/live-chat.yaml' has uncertain"),
    ({"customers": 5000}, "customers: applies to the montecarlo engine, which the plan does not run (engines: exact)"),
    ({"days": 30, "engines": ["exact", "montecarlo"]}, "days: applies to the agents engine, which the plan does not"),
])
def test_bad_plans(tmp_path, changes, message):
    with pytest.raises(ScenarioError, match=None) as info:
        load_plan(write_plan(tmp_path, **changes))
    assert message in str(info.value)


def read_rows(outdir: Path) -> list[dict]:
    with open(outdir / "results.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_local_processes_and_dask_give_identical_results(tmp_path):
    path = write_plan(tmp_path, seeds=[3])
    one = run_plan(path, outdir=tmp_path / "one", workers=1)
    two = run_plan(path, outdir=tmp_path / "two", workers=2)
    with local_cluster(2, processes=False) as address:
        dask = run_plan(path, outdir=tmp_path / "dask", scheduler=address)
    assert one.rows == two.rows == dask.rows and one.ran == 5 and "Dask" in dask.backend
    for name in ("results.csv", "results.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert list(read_rows(tmp_path / "one")[0]) == list(COLUMNS) and one.to_frame().shape == (5, len(COLUMNS))
    # an unswept item is the same prediction as `journeysim predict FILE --seed 3`
    p = predict(HYPOTHESES / "live-chat.yaml", draws=100, rng=np.random.default_rng(3))
    assert (one.rows[0]["lift_abs"], one.rows[0]["lift_abs_low"]) == (p.lift_abs, p.lift_abs_interval[0])


def test_resume_reruns_nothing_already_done(tmp_path, monkeypatch):
    path = write_plan(tmp_path, seeds=[1])
    out = tmp_path / "out"
    calls = []
    real = runs.run_item

    def interrupted(item):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(item["id"])
        return real(item)

    monkeypatch.setattr(runs, "run_item", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_plan(path, outdir=out)
    assert len(list((out / "items").glob("*.json"))) == 3 and not (out / "results.csv").exists()
    done, calls[:] = list(calls), []
    monkeypatch.setattr(runs, "run_item", lambda item: (calls.append(item["id"]), real(item))[1])
    resumed = run_plan(path, outdir=out, resume=True)
    assert resumed.ran == 2 and resumed.resumed == 3 and not set(calls) & set(done)
    calls.clear()
    again = run_plan(path, outdir=out, resume=True)
    assert calls == [] and again.ran == 0 and again.rows == resumed.rows
    assert [json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()] == \
        [i["id"] for i in load_plan(path).items]


def test_cli_run_ranks_by_lift(tmp_path, capsys):
    path = write_plan(tmp_path, seeds=[1])
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "--workers", "1", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    # no progress bar when stderr is not a terminal: only what was written
    assert captured.err == f"wrote {tmp_path / 'out'}/results.csv and results.jsonl\n"
    lifts = [r["lift_rel"] for r in out["ranking"]]
    assert lifts == sorted(lifts, reverse=True) and out["items"] == 5 and out["ran"] == 5
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "--resume"]) == 0
    text = capsys.readouterr().out
    assert "ranking by predicted relative lift" in text and "0 run now, 5 resumed" in text
    assert main(["run", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml: no such file" in capsys.readouterr().err
    assert main(["run", str(path), "--workers", "0"]) == 2
