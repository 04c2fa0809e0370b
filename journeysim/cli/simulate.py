"""``journeysim simulate MAP --engine exact|montecarlo|agents``: what the map implies.

Options shared by the engines are declared here; each sampling engine's own
command-line glue lives in ``journeysim/cli/_sim_<engine>.py`` with
``run(journey, args) -> int``.
"""

from __future__ import annotations

import importlib

from journeysim.cli._options import add_currency, add_max_transitions, engine_options
from journeysim.cli._render import emit
from journeysim.engines.exact import solve_exact
from journeysim.errors import UsageError
from journeysim.maps.read import load_journey

__all__ = ["register"]

ENGINES = ("exact", "montecarlo", "agents")

# Options only one sampling engine reads: given to the other one they are a mistake, not something to ignore.
_ENGINE_OPTIONS = {"montecarlo": ("customers", "horizon", "chunk_size", "backend", "workers"),
                   "agents": ("days", "csv")}


#: Shown at the end of ``--help``.
EXAMPLES = (
    'simulate scenarios/online-store.yaml',
    'simulate scenarios/online-store.yaml --engine montecarlo --customers 1,000,000 --seed 1',
    'simulate scenarios/online-store.yaml --engine montecarlo --customers 1e7 --seed 1 --workers 2',
)


def register(sub) -> None:
    p = sub.add_parser("simulate",
                       description="Simulate a journey map with one of the engines and print its metrics.")
    p.add_argument("map", metavar="MAP", help="a map file (YAML or JSON)")
    p.add_argument("--engine", choices=ENGINES, default="exact", help="default: exact")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--seed", help="random seed (sampling engines; an integer >= 0)")
    p.add_argument("--customers", help="montecarlo: number of new customers to simulate")
    p.add_argument("--horizon", help="montecarlo: count only conversions within this time (map's time unit)")
    p.add_argument("--chunk-size", help="montecarlo: customers advanced together (memory bound)")
    p.add_argument("--backend", choices=("numba", "numpy"),
                   help="montecarlo: compiled walks (numba, default) or vectorised numpy steps")
    p.add_argument("--workers", metavar="N",
                   help="montecarlo: run in blocks of 1,048,576 customers, each with its own random stream, on N "
                        "threads (one core each); the result depends on the seed, not on N")
    p.add_argument("--days", help="agents: length of the run in days")
    p.add_argument("--csv", metavar="DIR", help="agents: write the daily and per-touchpoint tables here")
    add_max_transitions(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_currency(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    engine_options(args, _ENGINE_OPTIONS)
    for option, value in (("--seed", args.seed), ("--max-transitions", args.max_transitions)):
        if args.engine == "exact" and value is not None:
            raise UsageError(f"{option} belongs to the sampling engines (montecarlo, agents), not to --engine exact")
    if args.csv is not None:
        from journeysim._files import check_folder_writable

        check_folder_writable(args.csv)   # before the map is read and the engine loads: a refusal comes at once
    journey = load_journey(args.map)
    if args.engine == "exact":
        emit(solve_exact(journey), args.json)
        return 0
    return importlib.import_module(f"journeysim.cli._sim_{args.engine}").run(journey, args)
