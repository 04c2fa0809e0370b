"""``journeysim check PREDICTION RESULTS``: was the prediction right? Records the answer in a ledger when asked."""

from __future__ import annotations

import sys

from journeysim._text import wrap
from journeysim.cli._experiment_args import (
    add_results_options,
    analysis_from_args,
    analyze_from_args,
    results_from_args,
)
from journeysim.cli._options import unused
from journeysim.cli._render import emit, to_json
from journeysim.errors import UsageError

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'check experiments/live-chat.prediction.json experiments/live-chat.results.csv --no-ledger',
)


def register(sub) -> None:
    p = sub.add_parser("check",
                       description="Observed against predicted relative lift: inside the predicted interval or not, "
                       "the z-score of the gap (both uncertainties), and a verdict (confirmed, too optimistic, too "
                       "pessimistic, inconclusive). With --ledger FILE (or a ledger named in journeysim.toml) the "
                       "check is appended to that ledger under a file lock; a repeat of the same prediction and "
                       "result files is refused unless --force. Without a ledger nothing is written.")
    p.add_argument("prediction", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    p.add_argument("results", metavar="RESULTS", nargs="?",
                   help="the A/B result file (optional with --events: the arms' logs then give the headline)")
    p.add_argument("--events", nargs=2, metavar=("CONTROL_LOG", "VARIANT_LOG"),
                   help="the arms' event logs: check every edge the hypothesis edits (one map fitted per arm)")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="with --events: a goal touchpoint of the logs (repeat for several; default: the map's goals)")
    p.add_argument("--repeat", action="store_true", help="with --events: a goal does not end the journey")
    p.add_argument("--lookback", metavar="DURATION", help="with --events: inactivity that starts a new journey")
    p.add_argument("--ledger", metavar="FILE",
                   help="ledger CSV to append the check to (default: the ledger named in journeysim.toml, if any)")
    p.add_argument("--no-ledger", action="store_true", help="only print the check, even if journeysim.toml names "
                                                            "a ledger")
    p.add_argument("--force", action="store_true",
                   help="record a check already in the ledger again, or a result (variant) the ledger already "
                        "records as the test of another hypothesis")
    p.add_argument("--variant", metavar="NAME", help="the variant that implements the hypothesis (if several)")
    add_results_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=run)


def _ledger(args) -> str | None:
    """The ledger to append to: ``--ledger``, else the project config's, else none."""
    from journeysim.config import load_config

    if args.no_ledger:
        unused({"--ledger": args.ledger, "--force": args.force}, "with --no-ledger (nothing is recorded)")
        return None
    ledger = args.ledger if args.ledger is not None else load_config().ledger
    if ledger is None:
        unused({"--force": args.force}, "without a ledger (nothing is recorded; give --ledger FILE)")
    return ledger


def run(args) -> int:
    from journeysim._files import check_writable

    ledger = _ledger(args) if args.events is None else None
    if ledger is not None:
        check_writable(ledger)                 # before the analysis and before its libraries load: at once
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments.check import append_to_ledger, check_ledger_file, check_prediction
    from journeysim.experiments.guardrails import prediction_guardrails
    from journeysim.whatif.prediction import read_prediction

    if ledger is not None:
        check_ledger_file(ledger)              # a file that is not a ledger: refused before the analysis too
    if args.events is not None:
        return _check_edges(args, read_prediction(args.prediction))
    prediction = read_prediction(args.prediction)
    unused({"--goal": args.goal or None, "--repeat": args.repeat, "--lookback": args.lookback},
           "without --events (they say how to read the arms' event logs)")
    if args.results is None:
        raise UsageError("give the A/B result file (RESULTS) or the arms' event logs (--events CONTROL VARIANT)")
    data = results_from_args(args, args.results)
    analysis = analyze_from_args(args, data)
    result = check_prediction(prediction, analysis, variant=args.variant)
    rails = prediction_guardrails(prediction, data, control=result.control, variant=result.variant,
                                  alpha=analysis.alpha)
    if rails is None:
        emit(result, args.json)          # shown even when the ledger then refuses it (a repeat): never lost
    elif args.json:
        print(to_json({**result.to_dict(), "guardrails": rails.to_dict()}))
    else:
        print(result.summary())
        print(rails.summary())
    sys.stdout.flush()
    if ledger is not None:
        append_to_ledger(ledger, result, force=args.force)
        print(f"recorded in {ledger}", file=sys.stderr)
    else:
        print(wrap("not recorded: give --ledger FILE to append this check to a ledger (or set ledger in "
                   "journeysim.toml)"), file=sys.stderr)
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
