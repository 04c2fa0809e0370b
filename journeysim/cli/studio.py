"""``journeysim studio PATH``: edit a map in the browser and watch its numbers move."""

from __future__ import annotations

from journeysim.cli._options import whole

__all__ = ["register", "run"]

#: Shown at the end of ``--help``.
EXAMPLES = (
    "studio scenarios/online-store.yaml",
    "studio scenarios --port 8800 --no-browser",
)


def register(sub) -> None:
    p = sub.add_parser("studio",
                       description="Start a local web studio on PATH (a map, or a folder of maps and hypotheses): "
                       "the journey as a graph, its numbers recomputed by the exact engine on every edit, edits "
                       "saved as the map or as a hypothesis, predictions and test designs. Ctrl-C stops it.")
    p.add_argument("path", metavar="PATH", help="a map file, or a folder of maps and hypotheses")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", default="8765", help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.set_defaults(handler=run)


def run(args) -> int:
    port = whole("--port", args.port, minimum=0, maximum=65535)
    # Imported here: the web stack is needed by this command alone.
    from journeysim.studio.server import serve

    return serve(args.path, host=args.host, port=port, open_browser=not args.no_browser)
