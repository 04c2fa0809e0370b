"""``journeysim predict HYPOTHESIS``: predicted lift of a hypothesis, with intervals."""

from __future__ import annotations

import numpy as np

from journeysim.cli._options import number, seed, whole
from journeysim.cli._render import emit
from journeysim.predict import DEFAULT_SIZE, ENGINES, predict, save_prediction

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("predict", help="predicted lift of a hypothesis (what-if file), with intervals",
                       description="Apply a hypothesis's changes to its baseline map and predict the metric's lift, "
                                   "with equal-tailed intervals over the hypothesis's ranges, the map's observation "
                                   "counts and the engine's sampling noise.")
    p.add_argument("hypothesis", metavar="HYPOTHESIS")
    p.add_argument("--engine", choices=ENGINES, default="exact", help="default: exact")
    p.add_argument("--draws", default="2000", help="joint draws of everything uncertain (default 2000)")
    p.add_argument("--level", default="0.9", help="interval level (default 0.9)")
    p.add_argument("--seed", help="random seed, an integer >= 0 (default: a fresh one, printed)")
    p.add_argument("--customers", help=f"montecarlo: customers per segment and draw (default {DEFAULT_SIZE['montecarlo']})")
    p.add_argument("--days", help=f"agents: days simulated per draw (default {DEFAULT_SIZE['agents']})")
    p.add_argument("--save", metavar="FILE", help="also write the prediction with its draws and input hashes (JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def run(args) -> int:
    draws = whole("--draws", args.draws, minimum=1)
    level = number("--level", args.level, above=0, below=1)
    run_seed = seed(args.seed)           # silent: the prediction states its seed
    size = whole("--customers", args.customers, minimum=1) if args.engine == "montecarlo" else \
        whole("--days", args.days, minimum=1) if args.engine == "agents" else None
    prediction = predict(args.hypothesis, engine=args.engine, draws=draws, level=level,
                         rng=np.random.default_rng(run_seed), size=size, seed=run_seed)
    if args.save:
        save_prediction(prediction, args.save)
    emit(prediction, args.json)
    return 0
