"""Errors raised for bad input.

Every message reads ``source: item 'name': what is wrong (what is allowed)`` so that
the command line can print it as one line and exit; anything that is not a
:class:`JourneySimError` is a bug in journeysim, not in the user's input.

Every error is a :class:`ValueError`, so library callers can catch bad input the
usual Python way; the command line tells them apart to choose its exit code
(2 for :class:`UsageError`, 1 for the others).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "JourneySimError",
    "MapError",
    "ScenarioError",
    "DataError",
    "UsageError",
    "OutputError",
    "ConfigError",
    "JourneySimWarning",
    "did_you_mean",
]


class JourneySimError(ValueError):
    """Base class of every error caused by bad input: a :class:`ValueError`.

    It may carry several messages (a file with several problems reports them all).

    Examples
    --------
    >>> try:
    ...     raise MapError(["m.yaml: touchpoint 'a': p 1.2 is outside [0, 1]", "m.yaml: entry: missing"])
    ... except ValueError as exc:
    ...     print(exc.messages[1])
    m.yaml: entry: missing
    """

    def __init__(self, messages: str | Iterable[str]):
        if isinstance(messages, str):
            messages = [messages]
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


class MapError(JourneySimError):
    """A journey map file is invalid."""


class ScenarioError(JourneySimError):
    """A hypothesis, plan or prediction file is invalid."""


class DataError(JourneySimError):
    """An event log, experiment result or ledger is invalid."""


class UsageError(JourneySimError):
    """An argument is invalid: a function's (``name=value``) or a command-line option's.

    The command line reports it as a usage error; every other :class:`JourneySimError`
    is bad input in a file.
    """


class OutputError(JourneySimError, OSError):
    """An output file cannot be written (missing folder, a folder in its place, no permission).

    Also an :class:`OSError`, so code that handles failed writes keeps working.
    """

    def __init__(self, messages: str | Iterable[str], strerror: str | None = None):
        JourneySimError.__init__(self, messages)
        self.strerror = strerror


class ConfigError(JourneySimError):
    """The project config file (``journeysim.toml``) is invalid."""


class JourneySimWarning(UserWarning):
    """Something the user should know that does not stop the command (the command line prints it as one line)."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close known name, else ``""``.

    Examples
    --------
    >>> did_you_mean("prodcut page", ["product page", "cart"])
    " (did you mean 'product page'?)"
    >>> did_you_mean("zzz", ["cart"])
    ''
    """
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
