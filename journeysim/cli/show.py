"""``journeysim show MAP``: the map itself: stages, touchpoints and rows."""

from __future__ import annotations

from journeysim._text import fmt, format_table, wrap
from journeysim.cli._options import add_currency
from journeysim.journey import Journey
from journeysim.maps.read import load_journey

__all__ = ["register", "describe"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'show scenarios/online-store.yaml',
    'show scenarios/online-store.yaml --json > online-store.json    # the map in its JSON form, a map file too',
)


def register(sub) -> None:
    p = sub.add_parser("show",
                       description="Print a journey map as tables: touchpoints with their attributes, "
                       "then every row with its drop-off.")
    p.add_argument("map", metavar="MAP", help="a map file (YAML or JSON)")
    p.add_argument("--json", action="store_true",
                   help="print the map as JSON, in the map-file form (what 'import' and every command read)")
    add_currency(p)
    p.set_defaults(handler=run)


def _delay(d) -> str:
    if d is None:
        return "-"
    return f"{d.dist} {fmt(d.mean)}" + (f" (sd {fmt(d.sd)})" if d.sd is not None else "")


def describe(journey: Journey) -> str:
    """The map as text tables."""
    head = f"{journey.name or 'journey'}: {len(journey.names)} touchpoints, time unit {journey.time_unit}"
    if journey.stages:
        head += "\nstages: " + " > ".join(journey.stages)
    if "discount" in journey.extra:
        d = journey.extra["discount"]
        head += f"\ndiscount: value loses {100 * d['rate']:g}% of its worth per {d['per']}"
    served = any(t.service is not None for t in journey.touchpoints.values())
    tps = [
        (n, t.stage or "-", t.channel or "-", *((_delay(t.service),) if served else ()), _delay(t.delay),
         "goal" if t.goal else "", fmt(t.value) if t.value else "", fmt(journey.entry.get(n)) if n in journey.entry else "")
        for n, t in journey.touchpoints.items()
    ]
    headers = ["touchpoint", "stage", "channel", *(["service"] if served else []), "delay", "goal", "value", "entry"]
    parts = [head, format_table("touchpoints", headers, tps)]
    referring = [(n, fmt(t.refers), ", ".join(f"{k} {fmt(v)}" for k, v in t.refer_entry.items())
                  if t.refer_entry is not None else "entry", t.refer_segment or "segment mix")
                 for n, t in journey.touchpoints.items() if t.refers or t.routed]
    if referring:
        parts.append(format_table("referrals", ["touchpoint", "new customers per visit", "they start at",
                                                "they join"], referring))
    rows = []
    for n in journey.names:
        for b, e in journey.rows.get(n, {}).items():
            rows.append((n, b, fmt(e.p), _delay(e.delay) if e.delay else ""))
        rows.append((n, "exit", fmt(journey.exit_probability(n)), ""))
    parts.append(format_table("transitions", ["from", "to", "p", "edge delay"], rows))
    for seg in journey.segments.values():
        srows = [(a, b, fmt(e.p)) for a, row in seg.rows.items() for b, e in row.items()]
        title = f"segment {seg.name} (share {fmt(seg.share)})"
        if seg.entry is not None:
            title += " entry: " + ", ".join(f"{k} {fmt(v)}" for k, v in seg.entry.items())
        parts.append(format_table(title, ["from", "to", "p"], srows) if srows else wrap(title + ": no rows replaced"))
    return "\n".join(parts)


def run(args) -> int:
    journey = load_journey(args.map)
    if args.json:
        from journeysim.cli._render import to_json
        from journeysim.maps.write import dump_journey

        print(to_json(dump_journey(journey)))
        return 0
    print(describe(journey))
    return 0
