"""Options ``reevaluate`` and ``report reevaluate`` share, and the re-evaluation they ask for."""

from __future__ import annotations

from pathlib import Path

from journeysim.cli._log_args import add_log_options, layout_from_args, log_options_given
from journeysim.cli._options import number, run_size, seed, unused
from journeysim.maps.values import MAX_COUNT

__all__ = ["add_options", "reevaluate_from_args"]


def add_options(p) -> None:
    """The options ``reevaluate`` and ``report reevaluate`` share."""
    p.add_argument("old", metavar="OLD", help="the first period's fitted map (with observations) or event log")
    p.add_argument("new", metavar="NEW", nargs="+",
                   help="the next period's fitted map or event log; more of them, in order, for a trend")
    p.add_argument("--goal", action="append", metavar="TOUCHPOINT",
                   help="event logs: a goal touchpoint (repeatable; default: touchpoints with a positive value)")
    p.add_argument("--seed", help="seed of the posterior draws (default 0, unless journeysim.toml sets a seed policy)")
    p.add_argument("--draws", default="200", help="Dirichlet posterior draws per map (default 200)")
    p.add_argument("--level", default="0.95", help="level of the removal-effect intervals (default 0.95)")
    p.add_argument("--alpha", default="0.05", help="false discovery rate for changed rows (default 0.05)")
    p.add_argument("--precision", default="0.1",
                   help="widest removal-effect change interval (absolute) that lets 'no change detected' read "
                        "'still works'; a wider one is 'inconclusive' (default 0.1)")
    p.add_argument("--by-segment", action="store_true",
                   help="also compare each segment both maps have, on its own counts (FDR over all the tests)")
    p.add_argument("--prior-strength", metavar="N",
                   help="compare a hand-drawn map (no observations): each of its rows counts as N observations "
                        "of its probabilities")
    add_log_options(p)


def reevaluate_from_args(args):
    """``(reevaluation, last journey)`` for parsed :func:`add_options` arguments: a
    :class:`~journeysim.reevaluation.Reevaluation` for two periods, a
    :class:`~journeysim.reevaluation.PeriodReevaluation` for more."""
    # imported here: scipy and statsmodels take a while to load and other commands should not pay for them
    import numpy as np

    from journeysim.errors import UsageError
    from journeysim.reevaluation import LOG_SUFFIXES, read_counted, reevaluate, reevaluate_periods

    paths = [args.old, *args.new]
    if not any(Path(p).suffix.lower() in LOG_SUFFIXES for p in paths):
        when = "when OLD and NEW are both maps" if len(paths) == 2 else "when every period is a map"
        unused({"--goal": args.goal}, f"{when} (it names the goals of an event log)")
        unused(log_options_given(args), f"{when} (it describes an event log)")
    # without --seed, 0 (a comparison repeats exactly), unless journeysim.toml fixes or requires one
    run_seed = seed(args.seed, command="reevaluate", default=0)
    options = {"draws": run_size("draws", "--draws", args.draws, minimum=10),  # fewer cannot give an interval
               "level": number("--level", args.level, above=0, below=1, percent=True),
               "alpha": number("--alpha", args.alpha, above=0, below=1, percent=True),
               "precision": number("--precision", args.precision, above=0),
               "by_segment": args.by_segment,
               "prior_strength": number("--prior-strength", args.prior_strength, above=0, below=MAX_COUNT)}
    layout = layout_from_args(args)
    hand_drawn = options["prior_strength"] is not None
    maps = [read_counted(p, args.goal, layout, hand_drawn=hand_drawn) for p in paths]
    if hand_drawn and all("entry" in m.journey.observations for m in maps):
        raise UsageError("--prior-strength has no effect when every period carries observation counts "
                         "(it gives a hand-drawn map's rows pseudo-counts)")
    if args.by_segment and not any(m.journey.segments for m in maps):
        raise UsageError("--by-segment: no period has segments (a map fitted from a log with a segment column has)")
    rng = np.random.default_rng(run_seed)
    if len(maps) == 2:
        return reevaluate(*maps, rng=rng, **options), maps[-1].journey
    return reevaluate_periods(maps, rng=rng, **options), maps[-1].journey
