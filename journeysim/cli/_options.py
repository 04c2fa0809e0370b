"""Parsers for command-line option values: whole numbers, numbers and seeds, with one wording for every command.

argparse hands the options over as strings so that a bad value gets a message naming the option, the value and
what is allowed, raised as :class:`~journeysim.errors.UsageError` (exit 2).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from journeysim.errors import UsageError

__all__ = ["whole", "number", "seed", "show_progress"]

# Whole numbers written as 1e6 are exact only up to here; larger ones must be written out.
_EXACT_FLOAT = 2**53


def whole(option: str, text: str | None, *, minimum: int, maximum: int | None = None,
          default: int | None = None) -> int | None:
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
    try:
        value = int(text)
    except ValueError:
        try:
            written = float(text)
        except ValueError:
            written = math.nan
        value = int(written) if written.is_integer() and abs(written) <= _EXACT_FLOAT else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        allowed = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        raise UsageError(f"{option} {text!r}: must be a whole number {allowed}")
    return value


def number(option: str, text: str | None, *, above: float | None = None, below: float | None = None,
           default: float | None = None) -> float | None:
    """A finite number strictly between ``above`` and ``below`` (each bound optional); ``default`` when absent.

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

    Returns
    -------
    float or None

    Raises
    ------
    UsageError
        When ``text`` is not a finite number within the bounds.

    Examples
    --------
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
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and (above is None or value > above) and (below is None or value < below):
        return value
    if above is not None and below is not None:
        allowed = f" in ({above}, {below})"
    else:
        allowed = f" > {above}" if above is not None else f" < {below}" if below is not None else ""
    raise UsageError(f"{option} {text!r}: must be a number{allowed}")


def seed(text: str | None, *, command: str | None = None) -> int:
    """``--seed`` as a whole number >= 0, or a fresh one from the operating system's entropy when absent.

    Parameters
    ----------
    text : str or None
        The ``--seed`` value as given; ``None`` when the option was not given.
    command : str or None
        The command's name: a seed it invents is announced on stderr under that name, so that the run can be
        repeated. ``None`` for commands whose output states the seed anyway.

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
    return not args.quiet and sys.stderr.isatty()
