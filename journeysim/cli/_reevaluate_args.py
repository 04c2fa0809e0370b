"""Options ``reevaluate`` and ``report reevaluate`` share, and the re-evaluation they ask for."""

from __future__ import annotations

from pathlib import Path

from journeysim.cli._log_args import add_log_options, layout_from_args, log_options_given
from journeysim.cli._options import number, run_size, unused, whole

__all__ = ["add_options", "reevaluate_from_args"]


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
    add_log_options(p)


def reevaluate_from_args(args):
    """``(reevaluation, new journey)`` for parsed :func:`add_options` arguments."""
    # imported here: scipy and statsmodels take a while to load and other commands should not pay for them
    import numpy as np

    from journeysim.reevaluation import LOG_SUFFIXES, read_counted, reevaluate

    if not any(Path(p).suffix.lower() in LOG_SUFFIXES for p in (args.old, args.new)):
        unused({"--goal": args.goal}, "when OLD and NEW are both maps (it names the goals of an event log)")
        unused(log_options_given(args), "when OLD and NEW are both maps (it describes an event log)")
    seed = whole("--seed", args.seed, minimum=0)
    options = {"draws": run_size("draws", "--draws", args.draws, minimum=10),  # fewer cannot give an interval
               "level": number("--level", args.level, above=0, below=1, percent=True),
               "alpha": number("--alpha", args.alpha, above=0, below=1, percent=True)}
    layout = layout_from_args(args)
    old, new = read_counted(args.old, args.goal, layout), read_counted(args.new, args.goal, layout)
    return reevaluate(old, new, rng=np.random.default_rng(seed), **options), new.journey
