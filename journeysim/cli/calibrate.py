"""``journeysim calibrate PREDICTION RESULTS -o MAP``: feed an A/B result back into the map."""

from __future__ import annotations

import sys
from pathlib import Path

from journeysim.cli._experiment_args import add_results_options, analysis_from_args
from journeysim.cli._render import emit, wrote
from journeysim.errors import UsageError

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'calibrate experiments/live-chat.prediction.json experiments/live-chat.aggregated.csv -o calibrated.yaml',
)


def register(sub) -> None:
    p = sub.add_parser("calibrate",
                       description="Importance-weight the saved prediction's draws by the likelihood of the observed "
                       "lift, report the posterior of each uncertain number, and write the variant map at the "
                       "posterior medians (with the posterior ranges in its 'calibration' block) as the new baseline.")
    p.add_argument("prediction", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    p.add_argument("results", metavar="RESULTS", nargs="?", help="the A/B result file (or --events)")
    p.add_argument("--events", nargs=2, metavar=("CONTROL_LOG", "VARIANT_LOG"),
                   help="the arms' event logs instead: update exactly the rows the hypothesis edits with the "
                        "variant arm's counts (Dirichlet update) and write the revised variant map")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="with --events: a goal touchpoint of the logs (default: the map's goals)")
    p.add_argument("-o", "--output", required=True, metavar="MAP.yaml", help="the calibrated variant map to write")
    p.add_argument("--hypothesis", metavar="FILE",
                   help="the hypothesis file (default: the prediction's hypothesis_file)")
    p.add_argument("--variant", metavar="NAME", help="the variant that implements the hypothesis (if several)")
    add_results_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--allow-outside", action="store_true",
                   help="let the prediction and hypothesis name files outside their project (see docs/limits.md)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from journeysim._files import OWN_PROJECT, check_writable, confinement, refuse_overwriting_input

    # before any input is read and before the statistics libraries load
    check_writable(args.output, reads=(args.prediction, args.results, args.hypothesis, *(args.events or ())))
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments.calibrate import (
        calibrate_prediction,
        calibrated_journey,
        check_calibratable,
    )
    from journeysim.maps.read import save_journey
    from journeysim.whatif.prediction import hypothesis_path, read_prediction

    prediction = read_prediction(args.prediction)
    if args.events is None:
        check_calibratable(prediction)   # before reading anything more: the metric alone decides
    within = None if args.allow_outside else confinement(OWN_PROJECT, Path(prediction.source).parent)
    hypothesis, changed = hypothesis_path(prediction, args.hypothesis, within=within)
    refuse_overwriting_input(args.output, (hypothesis,))     # the hypothesis the prediction names
    if changed:
        print(f"warning: {hypothesis}: changed since the prediction was saved (its sha256 differs from the "
              "prediction's inputs); the calibrated map applies today's file", file=sys.stderr)
    if args.events is not None:
        return _from_events(args, prediction, hypothesis, within)
    if args.goal:
        raise UsageError("--goal has no effect without --events (it says which touchpoints of the logs are goals)")
    if args.results is None:
        raise UsageError("give the A/B result file (RESULTS) or the arms' event logs (--events CONTROL VARIANT)")
    calibration = calibrate_prediction(prediction, analysis_from_args(args, args.results), variant=args.variant)
    save_journey(calibrated_journey(calibration, hypothesis, within=within), args.output)
    emit(calibration, args.json)
    wrote(args.output)
    return 0


def _from_events(args, prediction, hypothesis_path: str, within: str | None) -> int:
    from journeysim.experiments.edges import revised_from_arms
    from journeysim.maps.read import save_journey

    if args.results is not None:
        raise UsageError("give either RESULTS or --events, not both (the logs carry the counts the update uses)")
    check, revised = revised_from_arms(prediction, *args.events, hypothesis_path=hypothesis_path, goals=args.goal,
                                       within=within)
    save_journey(revised, args.output)
    emit(check, args.json)
    wrote(args.output)
    return 0
