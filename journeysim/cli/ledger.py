"""``journeysim ledger [FILE]``: are our predictions calibrated? Coverage, bias and a calibration plot."""

from __future__ import annotations

from journeysim.cli._render import emit, wrote

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'ledger experiments/ledger.csv',
    'ledger experiments/ledger.csv --plot calibration.png',
)


def register(sub) -> None:
    p = sub.add_parser("ledger",
                       description="How many checks, coverage of the predicted intervals against their nominal level "
                       "(with a binomial interval), mean and median bias (predicted minus observed lift), the gaps' "
                       "z-scores, and a calibration plot with --plot.")
    p.add_argument("ledger", nargs="?", default="experiments/ledger.csv", metavar="FILE",
                   help="ledger CSV (default experiments/ledger.csv)")
    p.add_argument("--plot", metavar="PNG", help="write the calibration plot here")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=run)


def run(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim._files import write_atomic
    from journeysim.experiments.ledger import summarize_ledger
    from journeysim.report.experiments import ledger_plot

    report = summarize_ledger(args.ledger)
    if args.plot:
        write_atomic(args.plot, ledger_plot(report).png)
    emit(report, args.json)
    if args.plot:
        wrote(args.plot)
    return 0
