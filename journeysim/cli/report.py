"""``journeysim report KIND ... -o DIR``: an HTML page and a Markdown file with PNG plots for a command's result.

One sub-command per reported command (simulate, predict, check, ledger, attribute,
reevaluate); each runs the command's computation and hands the result to the
matching builder in :mod:`journeysim.report`. Heavy modules are imported when a
report is made, not when the command line is parsed.
"""

from __future__ import annotations

import sys

from journeysim.cli._experiment_args import add_results_options, analysis_from_args
from journeysim.cli._log_args import add_log_options, layout_from_args, log_options_given
from journeysim.cli._options import refuse_log_options
from journeysim.cli._reevaluate_args import add_options as add_reevaluate_options
from journeysim.cli._reevaluate_args import reevaluate_from_args
from journeysim.cli._render import wrote
from journeysim.errors import UsageError
from journeysim.maps.read import load_journey

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'report simulate scenarios/online-store.yaml -o report',
    'report check experiments/live-chat.prediction.json experiments/live-chat.results.csv -o check-report',
)


def register(sub) -> None:
    p = sub.add_parser("report",
                       description="Write DIR/report.html (self-contained: plots embedded, no network needed), "
                       "DIR/report.md and the PNG plots it links, for one command's result.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", parser_class=type(p))
    kinds.required = True

    s = kinds.add_parser("simulate", help="a map: the journey by stage, the funnel, removal effects "
                         "(and the daily series with --engine agents)")
    s.add_argument("map", metavar="MAP", help="a map file (YAML or JSON)")
    s.add_argument("--engine", choices=("exact", "agents"), default="exact", help="default: exact")
    s.add_argument("--days", help="agents: length of the run in days")
    s.add_argument("--seed", help="agents: random seed (an integer >= 0)")
    s.add_argument("--max-transitions", metavar="N",
                   help="agents: refuse or stop a run past N visits (default 2e8; see docs/limits.md)")
    s.set_defaults(report=_simulate)

    pr = kinds.add_parser("predict", help="a saved prediction: the predicted lift's distribution")
    pr.add_argument("prediction", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    pr.set_defaults(report=_predict)

    c = kinds.add_parser("check", help="a prediction against the A/B result (the ledger is not touched)")
    c.add_argument("prediction", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    c.add_argument("results", metavar="RESULTS", nargs="?",
                   help="the A/B result of the test (CSV or Parquet; optional with --events)")
    c.add_argument("--events", nargs=2, metavar=("CONTROL_LOG", "VARIANT_LOG"),
                   help="the arms' event logs: the edited edges, predicted and observed, on the map")
    c.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="with --events: a goal touchpoint of the logs (default: the map's goals)")
    c.add_argument("--variant", metavar="NAME", help="the variant that implements the hypothesis (if several)")
    add_results_options(c)
    c.set_defaults(report=_check)

    lg = kinds.add_parser("ledger", help="calibration of the checked predictions")
    lg.add_argument("ledger", nargs="?", metavar="LEDGER.csv",
                    help="ledger CSV (default: the ledger named in journeysim.toml, else experiments/ledger.csv)")
    lg.set_defaults(report=_ledger)

    a = kinds.add_parser("attribute", help="attribution of an event log or path file under every model")
    a.add_argument("input", metavar="INPUT", help="event log or path file (.csv or .parquet)")
    a.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="event logs: a goal touchpoint (default: touchpoints whose events carry a value)")
    add_log_options(a)
    a.set_defaults(report=_attribute)

    r = kinds.add_parser("reevaluate", help="last year's map or log against this year's (options as 'reevaluate')")
    add_reevaluate_options(r)
    r.set_defaults(report=_reevaluate)

    for k in (s, pr, c, lg, a, r):
        k.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write the report into")
        k.set_defaults(handler=run)


def _simulate(args):
    from journeysim.report import simulate_report

    journey = load_journey(args.map)
    if args.engine == "exact":
        if args.days is not None or args.seed is not None or args.max_transitions is not None:
            raise UsageError("--days, --seed and --max-transitions belong to --engine agents")
        from journeysim.engines.exact import solve_exact

        return simulate_report(journey, solve_exact(journey))
    import numpy as np

    from journeysim.cli._options import compile_notice, max_transitions, seed
    from journeysim.cli._sim_agents import days
    from journeysim.engines.agents.engine import simulate_agents

    run_days = days(args.days)
    rng = np.random.default_rng(seed(args.seed, command="report"))
    compile_notice(args, "agents")
    result = simulate_agents(journey, run_days, rng=rng, source=args.map,
                             max_transitions=max_transitions(args, "agents"))
    return simulate_report(journey, result, result.daily)


def _predict(args):
    from journeysim._files import read_document
    from journeysim.report import predict_report
    from journeysim.whatif.prediction import read_prediction

    prediction = read_prediction(args.prediction)
    details, _ = read_document(args.prediction)       # already checked by read_prediction
    return predict_report(prediction, details)


def _check(args):
    from journeysim.experiments.check import check_prediction
    from journeysim.report import check_report
    from journeysim.whatif.prediction import read_prediction

    prediction = read_prediction(args.prediction)
    if args.events is not None:
        from journeysim.experiments.edges import check_arms
        from journeysim.report import edges_report

        analysis = None if args.results is None else analysis_from_args(args, args.results)
        check, hypothesis = check_arms(prediction, *args.events, analysis=analysis, goals=args.goal,
                                       variant=args.variant)
        return edges_report(prediction, check, hypothesis.variant())
    if args.goal:
        raise UsageError("--goal has no effect without --events (it says which touchpoints of the logs are goals)")
    if args.results is None:
        raise UsageError("give the A/B result file (RESULTS) or the arms' event logs (--events CONTROL VARIANT)")
    return check_report(prediction, check_prediction(prediction, analysis_from_args(args, args.results),
                                                     variant=args.variant))


def _ledger(args):
    from journeysim.experiments.ledger import summarize_ledger
    from journeysim.report import ledger_report

    from journeysim.config import ledger_to_read

    return ledger_report(summarize_ledger(ledger_to_read(args.ledger)))


def _attribute(args):
    from journeysim.attribution.credit import attribute_file
    from journeysim.report import attribute_report

    layout = layout_from_args(args)
    refuse_log_options(args.input, {"--goal": args.goal or None, **log_options_given(args)}, layout)
    return attribute_report(attribute_file(args.input, goals=args.goal, layout=layout), args.input)


def _reevaluate(args):
    from journeysim.report import reevaluate_report

    return reevaluate_report(*reevaluate_from_args(args))


def run(args) -> int:
    from journeysim.report.html import check_report_folder

    check_report_folder(args.output)     # before the work and before matplotlib loads: a refusal comes at once
    # imported here: matplotlib takes a while to load and other commands should not pay for it
    from journeysim.report import write_report

    html, markdown, *pngs = write_report(args.report(args), args.output)
    wrote(html, markdown, *(p.name for p in pngs), file=sys.stdout)
    return 0
