"""``journeysim attribute INPUT``: conversions and value per touchpoint under each attribution model."""

from __future__ import annotations

import numpy as np

from journeysim._logread import parse_duration
from journeysim.attribution import MODELS, attribute_file
from journeysim.cli._render import emit
from journeysim.errors import UsageError

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "attribute", help="attribute conversions to touchpoints (Markov, rule-based, Shapley)",
        description="Attribute conversions and value to touchpoints under Markov removal effects (order 1-4), "
        "first, last, linear, time-decay, position and Shapley, side by side, from an event log or a "
        "ChannelAttribution path file.")
    p.add_argument("input", metavar="INPUT", help="event log or path file (.csv or .parquet)")
    p.add_argument("--model", action="append", choices=[*MODELS, "all"], metavar="MODEL",
                   help=f"{'|'.join(MODELS)}|all (repeat for several; default: all)")
    p.add_argument("--order", default="1", help="Markov order, 1 to 4 (default 1)")
    p.add_argument("--bootstrap", default="0", metavar="B", help="bootstrap replicates for 95%% intervals (default 0)")
    p.add_argument("--seed", help="random seed for the bootstrap (an integer >= 0)")
    p.add_argument("--half-life", default="1", help="time-decay half-life in touches (default 1)")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="event logs: a goal touchpoint (default: touchpoints whose events carry a value)")
    p.add_argument("--lookback", metavar="DURATION", help="event logs: inactivity that ends a journey, e.g. 30d")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def _integer(text: str, option: str, low: int, high: int | None = None) -> int:
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        allowed = f"{low} to {high}" if high is not None else f">= {low}"
        raise UsageError(f"{option} {text!r} (must be an integer {allowed})")
    return int(text)


def run(args) -> int:
    models = list(MODELS) if not args.model or "all" in args.model else args.model
    order = _integer(args.order, "--order", 1, 4)
    bootstrap = _integer(args.bootstrap, "--bootstrap", 0)
    seed = _integer(args.seed, "--seed", 0) if args.seed is not None else None
    try:
        half_life = float(args.half_life)
    except ValueError:
        half_life = -1.0
    if not half_life > 0:
        raise UsageError(f"--half-life {args.half_life!r} (must be a number > 0)")
    lookback = parse_duration(args.lookback) if args.lookback is not None else None
    result = attribute_file(args.input, models, goals=args.goal, lookback=lookback, order=order,
                            half_life=half_life, bootstrap=bootstrap, rng=np.random.default_rng(seed))
    emit(result, args.json)
    return 0
