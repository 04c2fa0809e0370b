"""``journeysim simulate MAP --engine exact|...``: what the map implies, as tables or JSON."""

from __future__ import annotations

from journeysim.cli._render import emit
from journeysim.engines.exact import solve_exact
from journeysim.mapfile import load_journey

__all__ = ["register"]

ENGINES = ("exact",)


def register(sub) -> None:
    p = sub.add_parser("simulate", help="conversion, value, funnel and removal effects of a map",
                       description="Simulate a journey map with one of the engines and print its metrics.")
    p.add_argument("map", metavar="MAP")
    p.add_argument("--engine", choices=ENGINES, default="exact", help="default: exact")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def run(args) -> int:
    journey = load_journey(args.map)
    result = solve_exact(journey)
    emit(result, args.json)
    return 0
