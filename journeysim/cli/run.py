"""``journeysim run PLAN``: a batch of hypotheses x engines x seeds, locally or on a Dask cluster."""

from __future__ import annotations

import os

from journeysim.cli._options import RUN_SIZE_LIMITS, add_max_transitions, show_progress, unused, whole
from journeysim.cli._render import emit, wrote
from journeysim.errors import ScenarioError

__all__ = ["register", "run"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'run scenarios/plans/next-quarter.yaml -o next-quarter.results --workers 2',
)


def register(sub) -> None:
    p = sub.add_parser("run",
                       description="Run every item of a plan (hypotheses x sweep values x engines x seeds), write one "
                                   "row per item (CSV and JSON lines) and print a ranking by predicted lift.")
    p.add_argument("plan", metavar="PLAN", help="a plan file (YAML or JSON): hypotheses, sweeps, engines, seeds")
    p.add_argument("-o", "--outdir", help="results folder (default: next to the plan, <plan name>.results)")
    p.add_argument("--workers", help="local worker processes (default: the number of CPUs)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:port) instead "
                                                           "(default: the scheduler named in journeysim.toml, if any)")
    p.add_argument("--resume", action="store_true",
                   help="keep items already finished in OUTDIR whose input files are unchanged; run the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the ranking table")
    p.add_argument("--allow-outside", action="store_true",
                   help="let the plan and its hypotheses name files outside their project (see docs/limits.md)")
    p.add_argument("--max-items", metavar="N", help="refuse a plan that expands into more than N items "
                                                    "(hypotheses x sweep values x engines x seeds; default 10,000)")
    add_max_transitions(p)
    p.set_defaults(handler=run)


def _check_sizes(plan) -> None:
    """Hold a plan's draws, customers and days to the limits the same options have on the command line."""
    for item in plan.items:
        key = {"montecarlo": "customers", "agents": "days"}.get(item["engine"])
        sizes = [("draws", "draws", item["draws"])] + ([(key, key, item["size"])] if key else [])
        if key == "customers":
            sizes.append(("customers", "draws x customers", item["draws"] * item["size"]))
        for kind, what, value in sizes:
            limit, why = RUN_SIZE_LIMITS[kind]
            if value > limit:
                raise ScenarioError(f"{plan.source}: {what}: {value:_} is more than {limit:_} ({why})")


def _scheduler(args) -> str | None:
    """``--scheduler``; else, unless ``--workers`` asks for local processes, the project config's."""
    if args.scheduler is not None:
        unused({"--workers": args.workers}, "with --scheduler (the Dask cluster's workers run the items)")
        return args.scheduler
    if args.workers is not None:
        return None
    from journeysim.config import load_config

    return load_config().scheduler


def run(args) -> int:
    from journeysim._files import OWN_PROJECT, check_folder_writable
    from journeysim.whatif.plan import MAX_ITEMS, load_plan
    from journeysim.whatif.runs import default_outdir, run_plan

    scheduler = _scheduler(args)
    workers = whole("--workers", args.workers, minimum=1, default=os.cpu_count() or 1)
    check_folder_writable(args.outdir if args.outdir is not None else default_outdir(args.plan))
    max_items = whole("--max-items", args.max_items, minimum=1, default=MAX_ITEMS)
    max_transitions = whole("--max-transitions", args.max_transitions, minimum=1)
    plan = load_plan(args.plan, within=None if args.allow_outside else OWN_PROJECT, max_items=max_items,
                     max_transitions=max_transitions)
    _check_sizes(plan)
    result = run_plan(plan, outdir=args.outdir, workers=workers, scheduler=scheduler,
                      resume=args.resume, progress=show_progress(args))
    emit(result, args.json)
    if args.json:
        wrote(f"{result.outdir}/results.csv", "results.jsonl")
    return 0
