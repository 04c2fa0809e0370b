"""``journeysim export MAP --to mermaid|dot|graphml|json [-o FILE]``: the map for other tools."""

from __future__ import annotations

from journeysim._files import check_writable, write_atomic
from journeysim.cli._render import wrote
from journeysim.maps.convert import EXPORT_FORMATS, export_journey
from journeysim.maps.read import load_journey

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'export scenarios/online-store.yaml --to mermaid',
    'export scenarios/online-store.yaml --to graphml -o map.graphml',
)


def register(sub) -> None:
    p = sub.add_parser("export",
                       description="Write a journey map for other tools: Mermaid or Graphviz DOT to draw it, "
                       "GraphML or node-link JSON to edit it in graph tools (both read back with 'import').")
    p.add_argument("map", metavar="MAP", help="a map file (YAML or JSON)")
    p.add_argument("--to", required=True, choices=EXPORT_FORMATS, help="output format")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of printing")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.output:
        check_writable(args.output, reads=(args.map,))
    text = export_journey(load_journey(args.map), args.to)
    if args.output:
        write_atomic(args.output, text)
        wrote(args.output)
    else:
        print(text, end="")
    return 0
