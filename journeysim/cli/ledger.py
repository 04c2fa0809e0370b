"""``journeysim ledger [FILE]``: are our predictions calibrated? Coverage, bias, a plot; ``--verify`` the files."""

from __future__ import annotations

from journeysim.cli._options import unused
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
                       "z-scores, and a calibration plot with --plot. --verify instead recomputes the SHA-256 of "
                       "every prediction and result file the rows name and reports those that changed (exit 1) or "
                       "are missing.")
    p.add_argument("ledger", nargs="?", metavar="FILE",
                   help="ledger CSV (default: the ledger named in journeysim.toml, else experiments/ledger.csv)")
    p.add_argument("--verify", action="store_true",
                   help="check every row's prediction and result files against the hashes it recorded")
    p.add_argument("--plot", metavar="PNG", help="write the calibration plot here")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=run)


def run(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim._files import check_writable, write_atomic
    from journeysim.config import ledger_to_read

    ledger = ledger_to_read(args.ledger)
    if args.plot and not args.verify:
        check_writable(args.plot, reads=(ledger,))   # before the ledger is read and matplotlib loads: at once
    if args.verify:
        from journeysim.experiments.verify import verify_ledger

        unused({"--plot": args.plot}, "with --verify (it checks files; it draws nothing)")
        verification = verify_ledger(ledger)
        emit(verification, args.json)
        return 0 if verification.ok else 1
    from journeysim.experiments.ledger import summarize_ledger
    from journeysim.report.experiments import ledger_plot

    report = summarize_ledger(ledger)
    if args.plot:
        write_atomic(args.plot, ledger_plot(report).png)
    emit(report, args.json)
    if args.plot:
        wrote(args.plot)
    return 0
