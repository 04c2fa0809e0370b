"""``journeysim reevaluate OLD NEW [NEWER...] [--json] [--report DIR]``: what changed in the journey since last year."""

from __future__ import annotations

from journeysim.cli._reevaluate_args import add_options, reevaluate_from_args
from journeysim.cli._render import emit, wrote

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'reevaluate scenarios/events/online-store-2025.csv scenarios/events/online-store-2026.csv',
    'reevaluate scenarios/events/online-store-2025.csv scenarios/events/online-store-2026.csv --by-segment',
    'reevaluate scenarios/events/online-store-2025.csv scenarios/events/online-store-2026.csv '
    'scenarios/events/online-store-2027.csv',
)


def register(sub) -> None:
    p = sub.add_parser("reevaluate",
                       description="Per touchpoint: did its row change (chi-square, Benjamini-Hochberg), how its "
                       "removal effect moved (with an interval), its traffic, and a verdict ('inconclusive' when "
                       "nothing was detected but the interval is wider than --precision); the overall conversion "
                       "change with a two-proportion test; a ranked list of what to look at first. OLD and NEW are "
                       "fitted maps carrying observation counts, event logs (.csv, .parquet; fitted first) or, with "
                       "--prior-strength, hand-drawn maps. With more than two periods, each touchpoint's trend over "
                       "them as well as each consecutive pair.")
    add_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--report", metavar="DIR", help="also write an HTML and Markdown report with plots here")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.report:
        from journeysim.report.html import check_report_folder

        check_report_folder(args.report)
    result, new = reevaluate_from_args(args)
    if args.report:
        from journeysim.report import reevaluate_report, write_report

        written = write_report(reevaluate_report(result, new), args.report)
    emit(result, args.json)
    if args.report:
        wrote(*written[:2], *(p.name for p in written[2:]))
    return 0
