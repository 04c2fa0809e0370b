"""``journeysim check PREDICTION RESULTS``: was the prediction right? Records the answer in the ledger."""

from __future__ import annotations

import sys

from journeysim.cli._experiment_args import add_results_options, analysis_from_args
from journeysim.cli._options import unused
from journeysim.cli._render import emit
from journeysim.errors import UsageError

__all__ = ["register"]

DEFAULT_LEDGER = "experiments/ledger.csv"


#: Shown at the end of ``--help``.
EXAMPLES = (
    'check experiments/live-chat.prediction.json experiments/live-chat.results.csv --no-ledger',
)


def register(sub) -> None:
    p = sub.add_parser("check",
                       description="Observed against predicted relative lift: inside the predicted interval or not, "
                       "the z-score of the gap (both uncertainties), and a verdict (confirmed, too optimistic, too "
                       "pessimistic, inconclusive). Appends one row to the ledger; a repeat of the same prediction "
                       "and result files is refused unless --force.")
    p.add_argument("prediction", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    p.add_argument("results", metavar="RESULTS", nargs="?",
                   help="the A/B result file (optional with --events: the arms' logs then give the headline)")
    p.add_argument("--events", nargs=2, metavar=("CONTROL_LOG", "VARIANT_LOG"),
                   help="the arms' event logs: check every edge the hypothesis edits (one map fitted per arm)")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="with --events: a goal touchpoint of the logs (repeat for several; default: the map's goals)")
    p.add_argument("--repeat", action="store_true", help="with --events: a goal does not end the journey")
    p.add_argument("--lookback", metavar="DURATION", help="with --events: inactivity that starts a new journey")
    p.add_argument("--ledger", metavar="FILE", help=f"ledger CSV to append to (default {DEFAULT_LEDGER})")
    p.add_argument("--no-ledger", action="store_true", help="only print the check")
    p.add_argument("--force", action="store_true",
                   help="record a check already in the ledger again, or a result (variant) the ledger already "
                        "records as the test of another hypothesis")
    p.add_argument("--variant", metavar="NAME", help="the variant that implements the hypothesis (if several)")
    add_results_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=run)


def run(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments.check import append_to_ledger, check_prediction
    from journeysim.whatif.prediction import read_prediction

    if args.no_ledger:
        unused({"--ledger": args.ledger, "--force": args.force}, "with --no-ledger (nothing is recorded)")
    ledger = args.ledger if args.ledger is not None else DEFAULT_LEDGER
    prediction = read_prediction(args.prediction)
    if args.events is not None:
        return _check_edges(args, prediction)
    unused({"--goal": args.goal or None, "--repeat": args.repeat, "--lookback": args.lookback},
           "without --events (they say how to read the arms' event logs)")
    if args.results is None:
        raise UsageError("give the A/B result file (RESULTS) or the arms' event logs (--events CONTROL VARIANT)")
    result = check_prediction(prediction, analysis_from_args(args, args.results), variant=args.variant)
    if not args.no_ledger:
        append_to_ledger(ledger, result, force=args.force)
    emit(result, args.json)
    if not args.no_ledger:
        print(f"recorded in {ledger}", file=sys.stderr)
    return 0


def _check_edges(args, prediction) -> int:
    from journeysim.experiments.edges import check_arms
    from journeysim.logs.sources import parse_duration

    unused({"--ledger": args.ledger, "--force": args.force}, "with --events (the ledger records headline checks "
           "of an A/B result file: check PREDICTION RESULTS)")
    lookback = None if args.lookback is None else parse_duration(args.lookback)
    analysis = None if args.results is None else analysis_from_args(args, args.results)
    result, _ = check_arms(prediction, *args.events, analysis=analysis, goals=args.goal, variant=args.variant,
                           repeat=args.repeat, lookback=lookback)
    emit(result, args.json)
    return 0
