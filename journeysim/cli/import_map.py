"""``journeysim import FILE.graphml -o MAP.yaml``: a map edited in a graph tool, back to the map format."""

from __future__ import annotations

from journeysim._files import check_writable
from journeysim.maps.convert import import_journey
from journeysim.maps.read import save_journey

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'import map.graphml -o map.yaml',
)


def register(sub) -> None:
    p = sub.add_parser("import",
                       description="Read a map from GraphML (.graphml) or node-link JSON (.json) in the form "
                       "'export' writes, validate it and write it as a map file (YAML, or JSON for a .json name).")
    p.add_argument("graph", metavar="FILE", help="a .graphml or node-link .json file")
    p.add_argument("-o", "--output", metavar="MAP", required=True, help="map file to write (atomically)")
    p.set_defaults(handler=run)


def run(args) -> int:
    check_writable(args.output, reads=(args.graph,))
    journey = import_journey(args.graph)
    save_journey(journey, args.output)
    print(f"{args.output}: {len(journey.names)} touchpoints imported from {args.graph}")
    return 0
