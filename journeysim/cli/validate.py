"""``journeysim validate MAP...``: every error of every file, one line each."""

from __future__ import annotations

import sys

from journeysim.cli._render import to_json
from journeysim.maps.read import check_map

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'validate scenarios/*.yaml',
    'validate my-map.yaml && journeysim simulate my-map.yaml',
    'validate scenarios/*.yaml --json',
)


def register(sub) -> None:
    p = sub.add_parser("validate",
                       description="Check map files and report every problem, one line each. "
                       "Warnings (e.g. unreachable touchpoints) do not fail validation.")
    p.add_argument("maps", nargs="+", metavar="MAP", help="map files (YAML or JSON)")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object, {"maps": [{"source", "ok", "errors", "warnings"}, ...]}')
    p.set_defaults(handler=run)


def run(args) -> int:
    checks = [check_map(path) for path in args.maps]
    if args.json:
        print(to_json({"maps": [check.to_dict() for check in checks]}))
        return 0 if all(check.ok for check in checks) else 1
    failed = False
    for path, check in zip(args.maps, checks):
        for line in check.errors:
            print(f"error: {line}", file=sys.stderr)
        for line in check.warnings:
            print(f"warning: {line}", file=sys.stderr)
        if check.ok:
            j = check.journey
            print(f"{path}: valid ({_count(len(j.names), 'touchpoint')}, {_count(len(j.goals), 'goal')}, "
                  f"{_count(len(j.segments), 'segment')})")
        failed |= not check.ok
    return 1 if failed else 0


def _count(n: int, noun: str) -> str:
    return f"no {noun}s" if n == 0 else f"1 {noun}" if n == 1 else f"{n} {noun}s"
