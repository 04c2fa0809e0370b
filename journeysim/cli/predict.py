"""``journeysim predict HYPOTHESIS``: predicted lift of a hypothesis, with intervals."""

from __future__ import annotations

import numpy as np

from journeysim._files import OWN_PROJECT, check_writable, refuse_overwriting_input
from journeysim.cli._options import (
    add_currency,
    add_max_transitions,
    compile_notice,
    max_transitions,
    RUN_SIZE_LIMITS,
    engine_options,
    number,
    run_size,
    seed,
)
from journeysim.cli._render import emit, wrote
from journeysim.errors import UsageError
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import DEFAULT_SIZE, ENGINES, predict, save_prediction

__all__ = ["register", "run"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'predict scenarios/hypotheses/live-chat.yaml --seed 1',
    'predict scenarios/hypotheses/live-chat.yaml --seed 1 --save live-chat.prediction.json',
)


def register(sub) -> None:
    p = sub.add_parser("predict",
                       description="Apply a hypothesis's changes to its baseline map and predict the metric's lift, "
                                   "with equal-tailed intervals over the hypothesis's ranges, the map's observation "
                                   "counts and the engine's sampling noise.")
    p.add_argument("hypothesis", metavar="HYPOTHESIS", help="a hypothesis file (YAML or JSON): baseline map, metric, changes")
    p.add_argument("--engine", choices=ENGINES, default="exact", help="default: exact")
    p.add_argument("--draws", default="2000", help="joint draws of everything uncertain (default 2000)")
    p.add_argument("--level", default="0.9", help="interval level (default 0.9; 90%% also reads)")
    p.add_argument("--seed", help="random seed, an integer >= 0 (default: a fresh one, printed)")
    p.add_argument("--customers", help=f"montecarlo: customers per segment and draw (default {DEFAULT_SIZE['montecarlo']})")
    p.add_argument("--days", help=f"agents: days simulated per draw (default {DEFAULT_SIZE['agents']})")
    add_max_transitions(p)
    p.add_argument("--save", metavar="FILE", help="also write the prediction with its draws and input hashes (JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_currency(p)
    p.add_argument("--allow-outside", action="store_true",
                   help="let the hypothesis name a baseline map outside its project (see docs/limits.md)")
    p.set_defaults(handler=run)


def _customers_in_all(draws: int, customers: int | None) -> None:
    """Every draw simulates its own customers: their total is held to simulate's limit on one run."""
    total = draws * (customers or DEFAULT_SIZE["montecarlo"])
    limit, why = RUN_SIZE_LIMITS["customers"]
    if total > limit:
        raise UsageError(f"--draws {draws} x --customers {customers or DEFAULT_SIZE['montecarlo']} = {total:.3g} "
                         f"customers per arm and segment, more than {limit:_} ({why}); use fewer draws or customers")


def run(args) -> int:
    engine_options(args, {"montecarlo": ("customers",), "agents": ("days",)})
    if args.engine == "exact" and args.max_transitions is not None:
        raise UsageError("--max-transitions belongs to the sampling engines (montecarlo, agents), not to --engine exact")
    draws = run_size("draws", "--draws", args.draws)
    level = number("--level", args.level, above=0, below=1, percent=True)
    run_seed = seed(args.seed)           # silent: the prediction states its seed
    size = run_size("customers", "--customers", args.customers) if args.engine == "montecarlo" else \
        run_size("days", "--days", args.days) if args.engine == "agents" else None
    if args.engine == "montecarlo":
        _customers_in_all(draws, size)
    if args.save:
        check_writable(args.save, reads=(args.hypothesis,))        # before the draws, not after them
    hypothesis = load_hypothesis(args.hypothesis, within=None if args.allow_outside else OWN_PROJECT)
    if args.save:
        refuse_overwriting_input(args.save, (hypothesis.baseline_path,))
    if args.engine != "exact":
        compile_notice(args, args.engine)
    prediction = predict(hypothesis, engine=args.engine, draws=draws, level=level,
                         rng=np.random.default_rng(run_seed), size=size, seed=run_seed,
                         max_transitions=None if args.engine == "exact" else max_transitions(args, args.engine))
    if args.save:
        save_prediction(prediction, args.save)
    emit(prediction, args.json)
    if args.save:
        wrote(args.save)
    return 0
