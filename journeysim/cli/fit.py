"""``journeysim fit EVENTS -o MAP.yaml``: a journey map fitted from an event log or a path file."""

from __future__ import annotations

from journeysim.cli._log_args import add_log_options, layout_from_args, log_options_given
from journeysim.cli._options import run_size, unused
from journeysim.cli._render import emit, wrote
from journeysim.maps.read import save_journey

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'fit scenarios/events/online-store-2025.csv -o fitted.yaml --goal purchase',
    'fit events.parquet -o fitted.yaml --goal purchase --lookback 30d --stages stages.csv',
)


def register(sub) -> None:
    p = sub.add_parser(
        "fit",
        description="Fit a journey map from an event log (user_id, timestamp, touchpoint[, value, segment]) or a "
        "ChannelAttribution path file (path, total_conversions, total_null[, total_conversion_value]), read with "
        "DuckDB in one pass. Writes the map (entry, rows, observations, goals, values, delays, segments, stages) "
        "and prints what was fitted.")
    p.add_argument("events", metavar="EVENTS", help="event log or path file (.csv or .parquet)")
    p.add_argument("-o", "--output", metavar="MAP.yaml", required=True, help="where to write the map (.yaml or .json)")
    p.add_argument("--goal", action="append", default=[], metavar="TOUCHPOINT",
                   help="a goal touchpoint (repeat for several; default: touchpoints whose events carry a value; with "
                        "--conversion-column, the one goal the conversions reach, default 'conversion')")
    p.add_argument("--repeat", action="store_true", help="a goal does not end the journey (repeat visits continue it)")
    p.add_argument("--lookback", metavar="DURATION",
                   help="inactivity after which the next touch starts a new journey, e.g. 30d, 12h (default: none)")
    p.add_argument("--stages", metavar="FILE", help="touchpoint-to-stage file (YAML/JSON mapping or CSV)")
    p.add_argument("--threads", help="DuckDB threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the fit's diagnostics as JSON")
    add_log_options(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from journeysim._files import check_writable

    threads = run_size("threads", "--threads", args.threads)
    # before the log is read and before DuckDB and numba load: at once
    check_writable(args.output, reads=(args.events, args.stages, args.touchpoints))
    # DuckDB and statsmodels load here, not when the command line is built for every command.
    from journeysim.fitting.fit import fit_events
    from journeysim.logs.sources import parse_duration

    lookback = parse_duration(args.lookback) if args.lookback is not None else None
    result = fit_events(args.events, goals=args.goal, repeat=args.repeat, lookback=lookback, stages=args.stages,
                        threads=threads, layout=layout_from_args(args))
    if result.kind == "paths":
        unused({"--goal": args.goal or None, "--repeat": args.repeat, "--lookback": args.lookback,
                **log_options_given(args)},
               f"on {args.events}: it is a path file, whose paths are already cut and end at their conversion")
    save_journey(result.journey, args.output)
    emit(result, args.json)
    wrote(args.output)
    return 0
