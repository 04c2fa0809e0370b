"""``journeysim run PLAN``: a batch of hypotheses x engines x seeds, locally or on a Dask cluster."""

from __future__ import annotations

import os

from journeysim.cli._options import show_progress, whole
from journeysim.cli._render import emit

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("run", help="run a plan: many hypotheses x engines x seeds, with sweeps",
                       description="Run every item of a plan (hypotheses x sweep values x engines x seeds), write one "
                                   "row per item (CSV and JSON lines) and print a ranking by predicted lift.")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("-o", "--outdir", help="results folder (default: next to the plan, <plan name>.results)")
    p.add_argument("--workers", help="local worker processes (default: the number of CPUs)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:port) instead")
    p.add_argument("--resume", action="store_true", help="keep items already finished in OUTDIR; run only the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the ranking table")
    p.set_defaults(handler=run)


def run(args) -> int:
    from journeysim.runs import run_plan

    workers = whole("--workers", args.workers, minimum=1, default=os.cpu_count() or 1)
    result = run_plan(args.plan, outdir=args.outdir, workers=workers, scheduler=args.scheduler,
                      resume=args.resume, progress=show_progress(args))
    emit(result, args.json)
    return 0
