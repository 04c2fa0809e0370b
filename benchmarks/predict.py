"""Predictions per second for the bundled hypotheses, and a plan's speed-up from 1 to 2 workers.

* exact engine against a stacked numpy reference written from each hypothesis
  (``benchmarks/_predict_reference.py``): 2,000 draws (``--draws``), CPU seconds, interleaved; the
  ratio of draws per second and the largest difference between the two's draws;
* exact engine: 2,000 draws per prediction (the command's default);
* Monte Carlo engine: 50 draws of 20,000 customers per segment, baseline and variant;
* a plan of the example plan's 7 items (``scenarios/plans/next-quarter.yaml``) with 2,000
  draws and 2 seeds (14 items) run in this process (the reference), on 2 local
  processes, and on a 2-worker Dask ``LocalCluster`` with Dask's default
  ``MALLOC_TRIM_THRESHOLD_=65536`` and with it unset.

Usage::

    python benchmarks/predict.py               # everything (a few minutes)
    python benchmarks/predict.py --reference   # the exact engine against the references only
    python benchmarks/predict.py --reference --draws 200,2000,20000   # fixed cost against cost per draw
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from journeysim._files import read_document
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.plan import load_plan
from journeysim.whatif.prediction import predict
from journeysim.whatif.runs import local_cluster, run_plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import interleaved, load, machine  # noqa: E402
from _predict_reference import REFERENCES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HYPOTHESES = sorted((ROOT / "scenarios" / "hypotheses").glob("*.yaml"))
PLAN = ROOT / "scenarios" / "plans" / "next-quarter.yaml"


def timed(fn, repeat: int = 3) -> float:
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def against_references(draws: int = 2000, repeat: int = 5) -> None:
    """predict (exact engine) against the stacked numpy reference of each bundled hypothesis."""
    print(machine())
    print(f"exact predictions of {draws:,} draws against stacked numpy references (benchmarks/_predict_reference.py); "
          f"CPU seconds, median of {repeat} interleaved runs")
    print(f"{'hypothesis':<20} {'metric':<24} {'predict s':>9} {'draws/s':>9} {'reference s':>11} {'draws/s':>10} "
          f"{'ratio':>6} {'max difference':>15}")
    for path in HYPOTHESES:
        hyp = load_hypothesis(path)
        reference = REFERENCES[path.stem]
        ours = predict(hyp, draws=draws, rng=np.random.default_rng(1))
        base, var = reference(hyp, hyp.draw(draws, rng=np.random.default_rng(1))[0])
        worst = max(float(np.max(np.abs(ours.samples["baseline"] - base))),
                    float(np.max(np.abs(ours.samples["variant"] - var))))
        times = interleaved({
            "predict": lambda: predict(hyp, draws=draws, rng=np.random.default_rng(1)),
            "reference": lambda: reference(hyp, hyp.draw(draws, rng=np.random.default_rng(1))[0]),
        }, repeat)
        a, b = float(np.median(times["predict"])), float(np.median(times["reference"]))
        print(f"{path.stem:<20} {hyp.metric:<24} {a:>9.4f} {draws / a:>9,.0f} {b:>11.4f} {draws / b:>10,.0f} "
              f"{b / a:>6.2f} {worst:>15.2g}")
    print(load())


def predictions() -> None:
    print(f"{'hypothesis':<28} {'engine':<11} {'draws':>6} {'s/prediction':>13} {'predictions/s':>14} {'draws/s':>9}")
    for path in HYPOTHESES:
        hyp = load_hypothesis(path)
        for engine, draws, size in (("exact", 2000, None), ("montecarlo", 50, 20_000)):
            seconds = timed(lambda: predict(hyp, engine=engine, draws=draws, size=size, rng=np.random.default_rng(1)),
                            repeat=3 if engine == "exact" else 1)
            print(f"{path.stem:<28} {engine:<11} {draws:>6} {seconds:>13.3f} {1 / seconds:>14.2f} {draws / seconds:>9.0f}")


@contextlib.contextmanager
def dask_default_cluster():
    """A LocalCluster with Dask's own worker environment (MALLOC_TRIM_THRESHOLD_=65536)."""
    from distributed import LocalCluster

    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        yield cluster.scheduler_address
    if before is None:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def bench_plan(folder: Path) -> Path:
    """The example plan with absolute hypothesis paths, 2,000 draws and two seeds."""
    data, _ = read_document(PLAN)
    data["hypotheses"] = [
        str((PLAN.parent / h).resolve()) if isinstance(h, str) else {**h, "file": str((PLAN.parent / h["file"]).resolve())}
        for h in data["hypotheses"]]
    data.update(draws=2000, seeds=[1, 2])
    path = folder / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def plan_speedup() -> None:
    with tempfile.TemporaryDirectory() as out:
        plan = load_plan(bench_plan(Path(out)))

        def run(**kw):
            return lambda: run_plan(plan, outdir=Path(out) / str(time.perf_counter_ns()), **kw)

        one = timed(run(workers=1), repeat=2)
        rows = [("1 worker (in this process)", one), ("2 local processes", timed(run(workers=2), repeat=2))]
        with local_cluster(2) as address:
            run(scheduler=address)()   # warm the workers' imports
            rows.append(("Dask, 2 workers, MALLOC_TRIM_THRESHOLD_ unset", timed(run(scheduler=address), repeat=2)))
        with dask_default_cluster() as address:
            run(scheduler=address)()
            rows.append(("Dask, 2 workers, Dask's default environment", timed(run(scheduler=address), repeat=2)))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nplan: {len(plan.items)} items x 2000 draws (exact engine), {os.cpu_count()} CPUs, load average {load}")
    for name, seconds in rows:
        print(f"{name:<48} {seconds:7.2f} s   speed-up {one / seconds:4.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="only the exact engine against the references")
    parser.add_argument("--draws", default="2000", help="draws of the predictions against the references, "
                                                        "comma-separated (default 2000)")
    args = parser.parse_args()
    for n in args.draws.split(","):
        against_references(int(n))
    if not args.reference:
        predictions()
        plan_speedup()
