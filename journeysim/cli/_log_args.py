"""Options shared by the commands that read event logs (fit, attribute, reevaluate, report): how an export is laid out.

Every option defaults to ``None`` so that one given for a file it cannot apply to (a path file, two maps) is refused
rather than ignored (see :func:`log_options_given`).
"""

from __future__ import annotations

__all__ = ["add_log_options", "layout_from_args", "log_options_given"]

_COLUMNS = {"--user-column": ("user", "the customer id column (default user_id)"),
            "--time-column": ("time", "the time column (default timestamp)"),
            "--touchpoint-column": ("touchpoint", "the touchpoint (or event name) column (default touchpoint)"),
            "--value-column": ("value", "the conversion value column (default value, if present)"),
            "--segment-column": ("segment", "the segment column (default segment, if present)")}


def add_log_options(p) -> None:
    """Add the column-mapping, conversion-flag, time-unit and touchpoint-map options to parser ``p``."""
    group = p.add_argument_group("event log exports (see docs/importing.md)")
    for option, (dest, text) in _COLUMNS.items():
        group.add_argument(option, dest=f"{dest}_column", metavar="NAME", help=text)
    group.add_argument("--time-unit", choices=("s", "ms", "us"),
                       help="the time column counts seconds, milliseconds or microseconds since 1970 (default: it "
                            "holds dates and times)")
    group.add_argument("--conversion-column", metavar="COLUMN[=VALUE]",
                       help="rows whose COLUMN is true (or equals VALUE) are conversions right after their touchpoint; "
                            "the goal is named by --goal (default 'conversion')")
    group.add_argument("--touchpoints", metavar="FILE",
                       help="map event names (and patterns of another column) to touchpoints: YAML or CSV")
    group.add_argument("--keep-unmapped", action="store_true",
                       help="keep events the touchpoint map does not name, under their own names (default: dropped)")


def log_options_given(args) -> dict[str, object]:
    """Option as typed -> value (``None``/``False``: not given), for :func:`~journeysim.cli._options.unused`."""
    given: dict[str, object] = {option: getattr(args, f"{dest}_column") for option, (dest, _) in _COLUMNS.items()}
    given.update({"--time-unit": args.time_unit, "--conversion-column": args.conversion_column,
                  "--touchpoints": args.touchpoints, "--keep-unmapped": args.keep_unmapped})
    return given


def layout_from_args(args):
    """The :class:`~journeysim.logs.layout.LogLayout` the options describe (``None``: the default layout)."""
    if not any(value not in (None, False) for value in log_options_given(args).values()):
        return None
    from journeysim.cli._options import unused
    from journeysim.logs.layout import LogLayout, parse_conversion
    from journeysim.logs.touchpoints import read_touchpoint_map

    if args.touchpoints is None:
        unused({"--keep-unmapped": args.keep_unmapped}, "without --touchpoints (every event is kept)")
    conversion, value = parse_conversion(args.conversion_column) if args.conversion_column else (None, None)
    touchpoints = read_touchpoint_map(args.touchpoints) if args.touchpoints is not None else None
    return LogLayout(user=args.user_column, time=args.time_column, touchpoint=args.touchpoint_column,
                     value=args.value_column, segment=args.segment_column, conversion=conversion,
                     conversion_value=value, time_unit=args.time_unit, touchpoints=touchpoints,
                     keep_unmapped=args.keep_unmapped)
