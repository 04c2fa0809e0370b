"""``journeysim predict HYPOTHESIS``: predicted lift of a hypothesis, with intervals."""

from __future__ import annotations

import numpy as np

from journeysim.cli._render import emit
from journeysim.errors import UsageError
from journeysim.predict import DEFAULT_SIZE, ENGINES, predict, save_prediction

__all__ = ["register", "run", "parse_int", "parse_seed"]


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


def parse_int(text: str | None, option: str, minimum: int) -> int | None:
    """An integer option >= ``minimum`` (``None`` stays ``None``); :class:`UsageError` otherwise."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: not an integer") from None
    if value < minimum:
        raise UsageError(f"{option} {value}: must be >= {minimum}")
    return value


def parse_seed(text: str | None) -> int:
    """``--seed``, or a fresh seed from the operating system's entropy when absent."""
    seed = parse_int(text, "--seed", 0)
    return int(np.random.SeedSequence().entropy % 2**32) if seed is None else seed


def _level(text: str) -> float:
    try:
        level = float(text)
    except ValueError:
        raise UsageError(f"--level {text!r}: not a number") from None
    if not 0.0 < level < 1.0:
        raise UsageError(f"--level {text}: must be between 0 and 1 (e.g. 0.9)")
    return level


def run(args) -> int:
    draws = parse_int(args.draws, "--draws", 1)
    level = _level(args.level)
    seed = parse_seed(args.seed)
    size = parse_int(args.customers, "--customers", 1) if args.engine == "montecarlo" else \
        parse_int(args.days, "--days", 1) if args.engine == "agents" else None
    prediction = predict(args.hypothesis, engine=args.engine, draws=draws, level=level,
                         rng=np.random.default_rng(seed), size=size, seed=seed)
    if args.save:
        save_prediction(prediction, args.save)
    emit(prediction, args.json)
    return 0
