"""``journeysim reevaluate OLD NEW [--json] [--report DIR]``: what changed in the journey since last year."""

from __future__ import annotations

from pathlib import Path

from journeysim.cli._options import number, run_size, unused, whole
from journeysim.cli._render import emit, wrote
from journeysim.errors import DataError
from journeysim.maps.read import load_journey

__all__ = ["register", "add_options", "load_counted", "reevaluate_from_args"]

_LOG_SUFFIXES = (".csv", ".parquet", ".pq")


def add_options(p) -> None:
    """The options ``reevaluate`` and ``report reevaluate`` share."""
    p.add_argument("old", metavar="OLD", help="last year's fitted map (with observations) or event log")
    p.add_argument("new", metavar="NEW", help="this year's fitted map or event log")
    p.add_argument("--goal", action="append", metavar="TOUCHPOINT",
                   help="event logs: a goal touchpoint (repeatable; default: touchpoints with a positive value)")
    p.add_argument("--seed", default="0", help="seed of the posterior draws (default 0)")
    p.add_argument("--draws", default="200", help="Dirichlet posterior draws per map (default 200)")
    p.add_argument("--level", default="0.95", help="level of the removal-effect intervals (default 0.95)")
    p.add_argument("--alpha", default="0.05", help="false discovery rate for changed rows (default 0.05)")


#: Shown at the end of ``--help``.
EXAMPLES = (
    'reevaluate scenarios/events/online-store-2025.csv scenarios/events/online-store-2026.csv',
)


def register(sub) -> None:
    p = sub.add_parser("reevaluate",
                       description="Per touchpoint: did its row change (chi-square, Benjamini-Hochberg), how its "
                       "removal effect moved (with an interval), its traffic, and a verdict; the overall conversion "
                       "change with a two-proportion test; a ranked list of what to look at first. OLD and NEW are "
                       "fitted maps carrying observation counts, or event logs (.csv, .parquet; fitted first).")
    add_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--report", metavar="DIR", help="also write an HTML and Markdown report with plots here")
    p.set_defaults(handler=run)


def load_counted(path: str, goals=None):
    """A map with observation counts: a map file as it is, an event log fitted first."""
    if Path(path).suffix.lower() in _LOG_SUFFIXES:
        from journeysim.fitting.fit import fit_events

        return fit_events(path, goals=goals or ()).journey
    journey = load_journey(path)
    if "entry" not in journey.observations:
        raise DataError(f"{path}: no observation counts (observations: {{entry: n, touchpoint: n, ...}}); "
                        "re-evaluation compares fitted maps: fit one with 'journeysim fit LOG -o MAP.yaml', "
                        "or pass the event log itself")
    return journey


def reevaluate_from_args(args):
    """``(reevaluation, new journey)`` for parsed :func:`add_options` arguments."""
    # imported here: scipy and statsmodels take a while to load and other commands should not pay for them
    import numpy as np

    from journeysim.reevaluation import reevaluate

    if not any(Path(p).suffix.lower() in _LOG_SUFFIXES for p in (args.old, args.new)):
        unused({"--goal": args.goal}, "when OLD and NEW are both maps (it names the goals of an event log)")
    seed = whole("--seed", args.seed, minimum=0)
    options = {"draws": run_size("draws", "--draws", args.draws, minimum=10),  # fewer cannot give an interval
               "level": number("--level", args.level, above=0, below=1, percent=True),
               "alpha": number("--alpha", args.alpha, above=0, below=1, percent=True)}
    old, new = load_counted(args.old, args.goal), load_counted(args.new, args.goal)
    return reevaluate(old, new, rng=np.random.default_rng(seed), **options), new


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
