"""``journeysim attribute INPUT``: conversions and value per touchpoint under each attribution model."""

from __future__ import annotations

import numpy as np

from journeysim.attribution.credit import MODELS, attribute_file
from journeysim.cli._log_args import add_log_options, layout_from_args, log_options_given
from journeysim.cli._options import number, refuse_log_options, run_size, seed, unused, whole
from journeysim.cli._render import emit
from journeysim.logs.sources import parse_duration

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'attribute scenarios/events/online-store-2025.csv --goal purchase',
    'attribute paths.csv --model markov --order 2 --bootstrap 200 --seed 1',
)


def register(sub) -> None:
    p = sub.add_parser(
        "attribute",
        description="Attribute conversions and value to touchpoints under Markov removal effects (order 1-4), "
        "first, last, linear, time-decay, position and Shapley, side by side, from an event log or a "
        "ChannelAttribution path file.")
    p.add_argument("input", metavar="INPUT", help="event log or path file (.csv or .parquet)")
    p.add_argument("--model", action="append", choices=[*MODELS, "all"], metavar="MODEL",
                   help=f"{'|'.join(MODELS)}|all (repeat for several; default: all)")
    p.add_argument("--order", help="Markov order, 1 to 4 (default 1)")
    p.add_argument("--bootstrap", default="0", metavar="B", help="bootstrap replicates for 95%% intervals (default 0)")
    p.add_argument("--seed", help="random seed for the bootstrap (an integer >= 0)")
    p.add_argument("--half-life", help="time-decay half-life in touches (default 1)")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="event logs: a goal touchpoint (default: touchpoints whose events carry a value; with "
                        "--conversion-column, the one goal the conversions reach, default 'conversion')")
    p.add_argument("--lookback", metavar="DURATION", help="event logs: inactivity that ends a journey, e.g. 30d")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_log_options(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    models = list(MODELS) if not args.model or "all" in args.model else args.model
    order = whole("--order", args.order, minimum=1, maximum=4, default=1)
    bootstrap = run_size("bootstrap", "--bootstrap", args.bootstrap, minimum=0)
    half_life = number("--half-life", args.half_life, above=0, default=1.0)
    if "markov" not in models:
        unused({"--order": args.order}, "without the markov model (it is the Markov chain's order)")
    if "time-decay" not in models:
        unused({"--half-life": args.half_life}, "without the time-decay model")
    if not bootstrap:
        unused({"--seed": args.seed}, "without --bootstrap (only the bootstrap is random)")
    # absent: the project's seed policy (journeysim.toml), else a fresh seed said on stderr
    rng = np.random.default_rng(seed(args.seed, command="attribute") if bootstrap else None)
    lookback = parse_duration(args.lookback) if args.lookback is not None else None
    layout = layout_from_args(args)
    refuse_log_options(args.input, {"--goal": args.goal or None, "--lookback": args.lookback,
                                    **log_options_given(args)}, layout)
    result = attribute_file(args.input, models, goals=args.goal, lookback=lookback, layout=layout, order=order,
                            half_life=half_life, bootstrap=bootstrap, rng=rng)
    emit(result, args.json)
    return 0
