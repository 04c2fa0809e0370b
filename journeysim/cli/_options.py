"""Parsers for command-line option values: whole numbers, numbers and seeds, with one wording for every command.

argparse hands the options over as strings so that a bad value gets a message naming the option, the value and
what is allowed, raised as :class:`~journeysim.errors.UsageError` (exit 2).
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np

from journeysim.errors import UsageError, excerpt

__all__ = ["whole", "number", "seed", "show_progress", "compile_notice", "unused", "engine_options", "run_size", "RUN_SIZE_LIMITS",
           "add_currency", "refuse_log_options", "add_max_transitions", "max_transitions"]

# Whole numbers written as 1e6 are exact only up to here; larger ones must be written out.
_EXACT_FLOAT = 2**53
# Digits grouped in threes by commas, as people write counts and money: 2,000 or 1,250,000.5.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")

#: The largest value of each option that sets how much work a command does, and why: past these a run would take
#: hours to days on a laptop, or more memory than it has, without making the answer more useful (1e10 customers
#: already pin a conversion rate to about 1e-5). Refused up front (exit 2) rather than accepted and left running.
RUN_SIZE_LIMITS = {
    "customers": (10**10, "customers simulated in one run: more would take hours"),
    "chunk": (10**7, "customers held in memory at once: about 2 GB"),
    "days": (36_500, "100 years of calendar"),
    "draws": (100_000, "draws held in memory at once: about 1 GB"),
    "bootstrap": (10_000, "replicates: more would take hours and not narrow a 95% interval"),
    "threads": (1024, "threads of one process: more only add overhead"),
}


def whole(option: str, text: str | None, *, minimum: int, maximum: int | None = None,
          default: int | None = None, why: str | None = None) -> int | None:
    """A whole number from ``minimum`` (to ``maximum``), written as 1000, 1_000 or 1e3; ``default`` when absent.

    Parameters
    ----------
    option : str
        The option's name as typed, for the message (``"--draws"``).
    text : str or None
        The value as given; ``None`` when the option was not given.
    minimum, maximum : int
        The smallest and (if not ``None``) the largest value allowed.
    default : int or None
        Returned when ``text`` is ``None``.
    why : str or None
        What ``maximum`` protects, added to the message for a value above it.

    Returns
    -------
    int or None

    Raises
    ------
    UsageError
        When ``text`` is not a whole number in range.

    Examples
    --------
    >>> whole("--draws", "2_000", minimum=1), whole("--customers", "1e6", minimum=1)
    (2000, 1000000)
    >>> whole("--customers", "1,000,000", minimum=1)
    1000000
    >>> whole("--draws", None, minimum=1, default=200)
    200
    >>> whole("--order", "5", minimum=1, maximum=4)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --order '5': must be a whole number from 1 to 4
    >>> whole("--days", "1.5", minimum=1)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --days '1.5': must be a whole number >= 1
    """
    if text is None:
        return default
    plain = text.replace(",", "") if _GROUPED.fullmatch(text.strip()) else text
    try:
        value = int(plain)
    except ValueError:
        written = _plain_number(plain.strip())
        value = int(written) if written.is_integer() and abs(written) <= _EXACT_FLOAT else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        allowed = f"from {minimum} to {maximum:_}" if maximum is not None else f">= {minimum}"
        too_big = value is not None and maximum is not None and value > maximum
        reason = f" ({why})" if why and too_big else ""
        raise UsageError(f"{option} {excerpt(text)}: must be a whole number {allowed}{reason}")
    return value


def run_size(kind: str, option: str, text: str | None, *, minimum: int = 1, default: int | None = None) -> int | None:
    """A whole number that sets how much work a run does, up to its limit in :data:`RUN_SIZE_LIMITS`.

    Parameters
    ----------
    kind : str
        A key of :data:`RUN_SIZE_LIMITS`: ``customers``, ``chunk``, ``days``, ``draws``, ``bootstrap`` or ``threads``.
    option, text, minimum, default
        As for :func:`whole`.

    Examples
    --------
    >>> run_size("customers", "--customers", "1e6")
    1000000
    >>> run_size("customers", "--customers", "1e15")
    Traceback (most recent call last):
    journeysim.errors.UsageError: --customers '1e15': must be a whole number from 1 to 10_000_000_000 (customers simulated in one run: more would take hours)
    """
    maximum, why = RUN_SIZE_LIMITS[kind]
    return whole(option, text, minimum=minimum, maximum=maximum, default=default, why=why)


def number(option: str, text: str | None, *, above: float | None = None, below: float | None = None,
           default: float | None = None, percent: bool = False) -> float | None:
    """A finite number strictly between ``above`` and ``below`` (each bound optional); ``default`` when absent.

    Digits may be grouped with commas (``2,000``; a decimal comma, ``0,05``, is refused). With ``percent``, a
    value may be written in percent (``5%`` is 0.05).

    Parameters
    ----------
    option : str
        The option's name as typed, for the message (``"--alpha"``).
    text : str or None
        The value as given; ``None`` when the option was not given.
    above, below : float or None
        Open bounds: the value must be greater than ``above`` and less than ``below``.
    default : float or None
        Returned when ``text`` is ``None``.
    percent : bool
        Accept ``%`` after the number (options that are shares or probabilities).

    Returns
    -------
    float or None

    Raises
    ------
    UsageError
        When ``text`` is not a finite number within the bounds.

    Examples
    --------
    >>> number("--alpha", "5%", above=0, below=1, percent=True), number("--ratio", "1,500")
    (0.05, 1500.0)
    >>> number("--alpha", "0,05", above=0, below=1)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --alpha '0,05': must be a number in (0, 1) (write decimals with a point: 0.05)
    >>> number("--alpha", "0.05", above=0, below=1), number("--horizon", "30", above=0)
    (0.05, 30.0)
    >>> number("--lift", "-0.01")
    -0.01
    >>> number("--baseline", "1.5", above=0, below=1)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --baseline '1.5': must be a number in (0, 1)
    >>> number("--horizon", "nan", above=0)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --horizon 'nan': must be a number > 0
    """
    if text is None:
        return default
    written = str(text).strip()
    scale = 1.0
    if percent and written.endswith("%"):
        written, scale = written[:-1].strip(), 0.01
    value = _plain_number(written) * scale
    if math.isfinite(value) and (above is None or value > above) and (below is None or value < below):
        return value
    if above is not None and below is not None:
        allowed = f" in ({above}, {below})" + (f" or {above * 100:g}% to {below * 100:g}%" if percent else "")
    else:
        allowed = f" > {above}" if above is not None else f" < {below}" if below is not None else ""
    hint = " (write decimals with a point: 0.05)" if re.fullmatch(r"[+-]?\d+,\d{1,2}|[+-]?\d+,\d{4,}", written) else ""
    raise UsageError(f"{option} {excerpt(text)}: must be a number{allowed}{hint}")


def _plain_number(text: str) -> float:
    """``text`` as a float, digits grouped by commas allowed (``12,500.5``); NaN when it is not a number."""
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return math.nan


def seed(text: str | None, *, command: str | None = None, default: int | None = None) -> int:
    """``--seed`` as a whole number >= 0; when absent, what ``journeysim.toml`` says (``seed``): a fresh one from
    the operating system's entropy (the default), a fixed number, or a refusal (``"required"``).

    Parameters
    ----------
    text : str or None
        The ``--seed`` value as given; ``None`` when the option was not given.
    command : str or None
        The command's name: a seed it invents is announced on stderr under that name, so that the run can be
        repeated. ``None`` for commands whose output states the seed anyway.
    default : int or None
        The command's own seed where the project sets no fixed or required one (``reevaluate``'s 0, so that a
        yearly comparison repeats exactly); ``None``: a fresh one.

    Returns
    -------
    int

    Raises
    ------
    UsageError
        When ``text`` is not a whole number >= 0.

    Examples
    --------
    >>> seed("42")
    42
    >>> 0 <= seed(None) < 2**32
    True
    >>> seed("-1")
    Traceback (most recent call last):
    journeysim.errors.UsageError: --seed '-1': must be a whole number >= 0
    """
    if text is not None:
        return whole("--seed", text, minimum=0)
    from journeysim.config import load_config

    config = load_config()
    if config.seed == "required":
        raise UsageError(f"--seed is required: {config.path} sets seed = \"required\" (give --seed N)")
    if isinstance(config.seed, int):
        if command is not None:
            print(f"journeysim {command}: no --seed given, using --seed {config.seed} from {config.path}",
                  file=sys.stderr)
        return config.seed
    if default is not None:
        return default
    # The CLI is the one place that may invent a seed.
    invented = int(np.random.SeedSequence().entropy % 2**32)
    if command is not None:
        print(f"journeysim {command}: no --seed given, using --seed {invented}", file=sys.stderr)
    return invented


def show_progress(args) -> bool:
    """Whether to draw a progress bar: not with ``--quiet``, and only when stderr is a terminal.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> show_progress(SimpleNamespace(quiet=True))
    False
    """
    return not getattr(args, "quiet", False) and sys.stderr.isatty()     # (predict has no --quiet)


def compile_notice(args, engine: str) -> None:
    """Say on stderr, where a progress bar would be drawn (a terminal, not ``--quiet``), that this run compiles
    ``engine``'s kernel first: about 10 s, once after installing (see :mod:`journeysim.engines.kernels`)."""
    if not show_progress(args):
        return
    from journeysim.engines.kernels import compiles_first

    if compiles_first(engine):
        print(f"journeysim: compiling the {engine} engine (once after installing, about 10 s; later runs load it "
              "from disk)", file=sys.stderr, flush=True)


def unused(given: dict[str, object], context: str) -> None:
    """Refuse options that would be accepted and then silently ignored: their values would change nothing.

    Parameters
    ----------
    given : dict
        Option name as typed (``"--seed"``) -> its parsed value; ``None`` and ``False`` mean not given.
    context : str
        Why they do nothing, completing "OPTION has no effect ..." (``"without --bootstrap"``).

    Raises
    ------
    UsageError
        Naming the first option given.

    Examples
    --------
    >>> unused({"--seed": None, "--force": False}, "with --no-ledger")
    >>> unused({"--force": True}, "with --no-ledger (nothing is recorded)")
    Traceback (most recent call last):
    journeysim.errors.UsageError: --force has no effect with --no-ledger (nothing is recorded)
    """
    for option, value in given.items():
        if value is not None and value is not False:
            raise UsageError(f"{option} has no effect {context}")


def engine_options(args, owners: dict[str, tuple[str, ...]]) -> None:
    """Refuse an option that belongs to another engine than ``args.engine``.

    ``owners`` maps an engine to the ``args`` attributes only it reads (``chunk_size`` is ``--chunk-size``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> engine_options(SimpleNamespace(engine="exact", days="30"), {"agents": ("days",)})
    Traceback (most recent call last):
    journeysim.errors.UsageError: --days belongs to the agents engine, not to --engine exact
    """
    for owner, names in owners.items():
        for name in names if owner != args.engine else ():
            if getattr(args, name) is not None:
                option = "--" + name.replace("_", "-")
                raise UsageError(f"{option} belongs to the {owner} engine, not to --engine {args.engine}")


def add_max_transitions(p) -> None:
    """``--max-transitions N``: the most work a sampling engine's run may take (see docs/limits.md)."""
    p.add_argument("--max-transitions", metavar="N",
                   help="montecarlo, agents: refuse or stop a run past N transitions, one per visit (default: 1e11 "
                        "for montecarlo, 2e8 for agents)")


def max_transitions(args, engine: str) -> int:
    """``--max-transitions`` as given, else the engine's default limit.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> max_transitions(SimpleNamespace(max_transitions="2e12"), "montecarlo"), \\
    ...     max_transitions(SimpleNamespace(max_transitions=None), "agents")
    (2000000000000, 200000000)
    """
    from journeysim.engines.workload import MAX_TRANSITIONS

    return whole("--max-transitions", args.max_transitions, minimum=1, default=MAX_TRANSITIONS[engine])


def add_currency(p) -> None:
    """``--currency CODE``: the currency shown beside money, over the map's own ``currency:``."""
    p.add_argument("--currency", metavar="CODE",
                   help="currency shown beside money in tables, e.g. EUR (default: the map's 'currency:')")


def refuse_log_options(path: str, given: dict[str, object], layout=None) -> None:
    """Refuse event-log options (``given``: option -> value; ``None`` or ``False``: not given) for a path file,
    which would ignore them; ``layout`` is the log layout the options describe."""
    if any(v is not None and v is not False for v in given.values()):
        from journeysim.logs.sources import connect, open_source  # DuckDB: only when such an option is given

        with connect() as con:
            if open_source(con, path, layout).kind == "paths":
                unused(given, f"on {path}: it is a path file, whose paths are already cut and end at their conversion")
