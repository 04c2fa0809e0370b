"""``journeysim check PREDICTION RESULTS``: was the prediction right? Records the answer in the ledger."""

from __future__ import annotations

import sys

from journeysim.cli._experiment_args import add_results_options, analysis_from_args
from journeysim.cli._options import unused
from journeysim.cli._render import emit

__all__ = ["register"]

DEFAULT_LEDGER = "experiments/ledger.csv"


def register(sub) -> None:
    p = sub.add_parser("check", help="put an A/B test's observed lift beside the predicted one; append to the ledger",
                       description="Observed against predicted relative lift: inside the predicted interval or not, "
                       "the z-score of the gap (both uncertainties), and a verdict (confirmed, too optimistic, too "
                       "pessimistic, inconclusive). Appends one row to the ledger; a repeat of the same prediction "
                       "and result files is refused unless --force.")
    p.add_argument("prediction", metavar="PREDICTION.json")
    p.add_argument("results", metavar="RESULTS")
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
    result = check_prediction(prediction, analysis_from_args(args, args.results), variant=args.variant)
    if not args.no_ledger:
        append_to_ledger(ledger, result, force=args.force)
    emit(result, args.json)
    if not args.no_ledger:
        print(f"recorded in {ledger}", file=sys.stderr)
    return 0
