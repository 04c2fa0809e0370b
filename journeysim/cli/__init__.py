"""The ``journeysim`` command line: argument parsing and rendering only.

Each command lives in its own module exposing ``register(subparsers)``; the
module's handler takes the parsed arguments and returns the exit code. Bad
input (a :class:`~journeysim.errors.JourneySimError`) prints its message and
exits 1 (2 for usage errors); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from journeysim import __version__
from journeysim.errors import JourneySimError, UsageError

__all__ = ["main", "build_parser"]

# Command modules, in the order `--help` lists them.
COMMANDS = [
    "validate",
    "show",
    "simulate",
    "predict",
    "run",
    "design",
    "analyze",
    "check",
    "ledger",
    "calibrate",
    "fit",
    "attribute",
    "reevaluate",
    "report",
    "export",
    "import",
]


# A command whose name is a Python keyword lives in a module named otherwise.
_MODULES = {"import": "import_map"}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, as argparse does, without the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="journeysim",
        description="Customer journey maps: simulate, predict, design and check A/B tests, fit and re-evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"journeysim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"journeysim.cli.{_MODULES.get(name, name)}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        # Importing the commands takes a moment: Ctrl-C then must not print a traceback either.
        parser = build_parser()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe must fail here, inside the handler below, not at exit
        return code
    except UsageError as exc:
        print(f"journeysim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except JourneySimError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) stopped: not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
