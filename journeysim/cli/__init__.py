"""The ``journeysim`` command line: argument parsing and rendering only.

:data:`COMMANDS` names each command with its one-line help and its module; only the
command being run is imported. A command's module exposes ``register(subparsers)``
and a handler that takes the parsed arguments and returns the exit code. Bad
input (a :class:`~journeysim.errors.JourneySimError`) prints its message and
exits 1 (2 for usage errors); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import warnings

from journeysim import __version__
from journeysim._safe import TerminalStream, terminal_text
from journeysim.errors import JourneySimError, JourneySimWarning, UsageError

__all__ = ["main", "build_parser"]

#: The command table: name -> (one-line help, module), in the order ``journeysim --help`` lists them. Like pip's
#: ``commands_dict``, it names every command without importing it: a command's module (and through it numba,
#: DuckDB, pandas, statsmodels...) is imported only when that command runs, so ``--help`` and ``validate`` start at
#: once. A new command is one line here plus its module, which exposes ``register(subparsers)``.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("check map files; exit 0 when all are valid, 1 when not", "journeysim.cli.validate"),
    "show": ("print a map: stages, touchpoints, rows", "journeysim.cli.show"),
    "simulate": ("conversion, value, funnel and removal effects of a map", "journeysim.cli.simulate"),
    "predict": ("predicted lift of a hypothesis (what-if file), with intervals", "journeysim.cli.predict"),
    "run": ("run a plan: many hypotheses x engines x seeds, with sweeps", "journeysim.cli.run"),
    "design": ("size an A/B test on a conversion rate or a value per customer (or for a saved prediction)",
               "journeysim.cli.design"),
    "analyze": ("analyse an A/B test result (CSV or Parquet)", "journeysim.cli.analyze"),
    "check": ("put an A/B test's observed lift beside the predicted one; record it in a ledger",
              "journeysim.cli.check"),
    "ledger": ("calibration of the checked predictions: coverage, bias, plot; --verify the files",
               "journeysim.cli.ledger"),
    "calibrate": ("update a hypothesis's uncertain numbers with an A/B result; write the new map",
                  "journeysim.cli.calibrate"),
    "fit": ("fit a journey map from an event log (CSV/Parquet) or a path file", "journeysim.cli.fit"),
    "attribute": ("attribute conversions to touchpoints (Markov, rule-based, Shapley)", "journeysim.cli.attribute"),
    "reevaluate": ("compare last year's map (or event log) with this year's", "journeysim.cli.reevaluate"),
    "report": ("write an HTML and Markdown report with plots", "journeysim.cli.report"),
    "export": ("write a map as Mermaid, Graphviz DOT, GraphML or node-link JSON", "journeysim.cli.export"),
    "import": ("read a GraphML or node-link JSON map written by 'export'", "journeysim.cli.import_map"),
    "studio": ("edit a map in the browser and watch conversion, value and predictions move", "journeysim.cli.studio"),
}

# Options of `journeysim` itself, which may come before the command's name.
_TOP_OPTIONS = ("-h", "--help", "--version", "-v", "--verbose")


class _Formatter(argparse.HelpFormatter):
    """Paragraphs are wrapped to the terminal; indented lines (the examples) are kept as written."""

    def _fill_text(self, text, width, indent):
        blocks, lines = [], []
        for line in text.splitlines():
            if line.startswith(" ") or not line.strip():
                if lines:
                    blocks.append(super()._fill_text(" ".join(lines), width, indent))
                    lines = []
                blocks.append(indent + line if line.strip() else "")
            else:
                lines.append(line)
        if lines:
            blocks.append(super()._fill_text(" ".join(lines), width, indent))
        return "\n".join(blocks)


class _CommandList(_Formatter):
    """The command list with every help beside its name: argparse measures the names two columns short of
    where it prints them, so the longest ones would push their help onto the next line."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=16)
        self._action_max_length = 14


#: A negative number as the options take them: grouped digits, an exponent, a percent or percentage points.
_NEGATIVE = re.compile(r"^-(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*(%|pp)?$")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        # argparse takes a word that starts with '-' for an option unless it is a plain negative number, so
        # `design --lift -10%` (or -0.5pp, -1,000, -1e-3) failed with "expected one argument"
        self._negative_number_matcher = _NEGATIVE

    def error(self, message):  # one line and exit 2, as argparse does, without the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Commands:
    """What a command's ``register`` receives: ``add_parser`` takes the command's help from the table and its
    module's ``EXAMPLES`` as the end of its ``--help``."""

    def __init__(self, sub, examples: tuple[str, ...]):
        self._sub = sub
        self._examples = examples

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        kwargs.setdefault("help", COMMANDS[name][0])
        if self._examples:
            kwargs.setdefault("epilog", "examples:\n" + "\n".join(f"  journeysim {c}" for c in self._examples))
        return self._sub.add_parser(name, **kwargs)


def _command_in(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is not an option of ``journeysim`` itself)."""
    for word in argv:
        if word in _TOP_OPTIONS:
            continue
        return word if not word.startswith("-") else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``journeysim``, with ``command`` (if it is one) fully registered and the others named only."""
    parser = _Parser(
        prog="journeysim",
        formatter_class=_CommandList,
        description="Customer journey maps: simulate, predict, design and check A/B tests, fit and re-evaluate.",
        epilog="Run 'journeysim COMMAND --help' for a command's options and examples; the documentation is in "
               "docs/ (mkdocs serve).",
    )
    parser.add_argument("--version", action="version", version=f"journeysim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (help_, module) in COMMANDS.items():
        if name == command:
            command_module = importlib.import_module(module)
            command_module.register(_Commands(sub, getattr(command_module, "EXAMPLES", ())))
            registered = sub.choices[name]
            # Also after the command's name, where people type it; SUPPRESS keeps a flag given before the name.
            for p in (registered, *_nested(registered)):
                p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE)
        else:
            sub.add_parser(name, help=help_)
    return parser


_VERBOSE = "say which project config file (journeysim.toml) is used and what it sets"


def _nested(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [p for action in parser._subparsers._group_actions for p in action.choices.values()] \
        if parser._subparsers is not None else []


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Warnings print as one line each: journeysim's own as warnings, libraries' as notes (each once)."""
    noted: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, JourneySimWarning):
            print(terminal_text(f"journeysim {command}: warning: {message}"), file=sys.stderr)
            return
        # A library's (numpy's overflow...): one line too, without Python's file name and source line, and once
        # however many places raise it (the same overflow in every metric of a run says nothing more).
        first = str(message).strip().splitlines()[0] if str(message).strip() else ""
        text = f"journeysim {command}: note: {first} ({category.__name__})"
        if text not in noted:
            noted.add(text)
            print(terminal_text(text), file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", JourneySimWarning)
        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_in(argv)
    try:
        # Importing a command can take a moment: Ctrl-C then must not print a traceback either.
        parser = build_parser(command)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if not argv:
        parser.print_help()          # plain `journeysim`: what it can do
        return 0
    args = parser.parse_args(argv)
    stdout = sys.stdout
    try:
        sys.stdout = TerminalStream(stdout)   # names cannot drive the terminal, whatever a command prints
        try:
            from journeysim._text import currency_context
            from journeysim.config import load_config

            config = load_config()
            if args.verbose:
                print(f"journeysim {args.command}: {config.summary()}", file=sys.stderr)
            with currency_context(override=getattr(args, "currency", None), default=config.currency), \
                    _warnings_as_lines(args.command):
                code = int(args.handler(args) or 0)
            sys.stdout.flush()  # a closed pipe must fail here, inside the handler below, not at exit
        finally:
            sys.stdout = stdout
        return code
    except UsageError as exc:
        print(terminal_text(f"journeysim {args.command}: error: {exc}"), file=sys.stderr)
        return 2
    except JourneySimError as exc:
        print(terminal_text(str(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) stopped: not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
