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
import heapq
import numbers
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import islice

__all__ = [
    "JourneySimError",
    "MapError",
    "ScenarioError",
    "DataError",
    "UsageError",
    "OutputError",
    "ConfigError",
    "LimitError",
    "JourneySimWarning",
    "did_you_mean",
    "NameIndex",
    "excerpt",
    "whole_number",
    "EXCERPT_LENGTH",
]

#: Characters of an offending value that a message shows at most.
EXCERPT_LENGTH = 80


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


class LimitError(JourneySimError):
    """A run would do more work than a limit allows (``--max-transitions``, ``--max-items``): the message gives the
    figure and the option that raises the limit. The command line exits 1, as for bad input: the input asks for it.
    """


class JourneySimWarning(UserWarning):
    """Something the user should know that does not stop the command (the command line prints it as one line)."""


def did_you_mean(name: str, known: Iterable[str] | NameIndex) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close known name, else ``""``.

    ``known`` may be a :class:`NameIndex`, built once for a long list of names that many
    lookups share (comparing a name with every known one would make a check quadratic).

    Examples
    --------
    >>> did_you_mean("prodcut page", ["product page", "cart"])
    " (did you mean 'product page'?)"
    >>> did_you_mean("zzz", ["cart"])
    ''
    """
    index = known if isinstance(known, NameIndex) else NameIndex(known)
    close = index.closest(name)
    return f" (did you mean {excerpt(close)}?)" if close is not None else ""


class NameIndex:
    """Known names indexed by their character pairs, for "did you mean" hints in time independent of their number.

    A name is compared (by :func:`difflib.get_close_matches`, ratio 0.6) only with the
    :attr:`CANDIDATES` known names that share the most of its rarest character pairs, and
    the pairs looked up are capped by :attr:`POSTINGS` entries in all, so one lookup costs
    the same among ten names or a million.

    Examples
    --------
    >>> index = NameIndex([f"page {i}" for i in range(10_000)] + ["checkout"])
    >>> index.closest("chekout"), index.closest("zzz")
    ('checkout', None)
    """

    CANDIDATES = 16
    POSTINGS = 1024

    def __init__(self, known: Iterable[str]):
        self.names = list(dict.fromkeys(str(k) for k in known))
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(self.names):
            for gram in _pairs(name):
                self._postings[gram].append(i)

    def closest(self, name) -> str | None:
        """The known name closest to ``name`` (ratio at least 0.6), or ``None``."""
        name = str(name)
        if len(self.names) <= self.CANDIDATES:
            candidates = self.names
        else:
            grams = sorted(_pairs(name[:200]), key=lambda g: len(self._postings.get(g, ())))
            hits: Counter[int] = Counter()
            budget = self.POSTINGS
            for gram in grams:
                posting = self._postings.get(gram, ())
                if not posting:
                    continue
                hits.update(islice(posting, budget))
                budget -= len(posting)
                if budget <= 0:
                    break
            best = heapq.nlargest(self.CANDIDATES, hits.items(), key=lambda kv: (kv[1], -kv[0]))
            candidates = [self.names[i] for i, _ in best]
        close = difflib.get_close_matches(name[:200], candidates, n=1, cutoff=0.6)
        return close[0] if close else None


def _pairs(name: str) -> set[str]:
    padded = f"\0{name}\0"
    return {padded[i:i + 2] for i in range(len(padded) - 1)}


def whole_number(value) -> bool:
    """Whether an argument is a whole number: a Python or numpy integer, not a bool (and not a float such as 3.0).

    Examples
    --------
    >>> import numpy as np
    >>> whole_number(3), whole_number(np.int64(3)), whole_number(True), whole_number(3.0), whole_number("3")
    (True, True, False, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def excerpt(value, limit: int = EXCERPT_LENGTH) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, with work bounded by ``limit``.

    Messages show offending values through this: a value read from a file may be a
    megabyte of text or a structure whose shared parts ``repr`` would expand without end.

    Examples
    --------
    >>> excerpt("cart"), excerpt({"p": [0.5, 0.5]})
    ("'cart'", "{'p': [0.5, 0.5]}")
    >>> import numpy as np
    >>> excerpt(np.int64(2)), excerpt([np.float64(0.5), np.str_("B")])
    ('2', "[0.5, 'B']")
    >>> excerpt("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    >>> shared = [1]
    >>> for _ in range(200):
    ...     shared = [shared, shared]
    >>> len(excerpt(shared))
    80
    """
    if isinstance(value, str) and len(value) <= limit:
        shown = repr(value)             # the common case: short text
        if len(shown) <= limit:
            return shown
    out: list[str] = []
    size = 0
    stack: list = [value]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, _Text):
            piece = item
        elif isinstance(item, str):
            piece = repr(item[:limit + 1])
        elif isinstance(item, Mapping):
            entries = list(islice(item.items(), limit // 4 + 1))
            stack.append(_Text("}"))
            for i, (k, v) in reversed(list(enumerate(entries))):
                stack += [v, _Text(": "), k] + ([_Text(", ")] if i else [])
            piece = "{"
        elif isinstance(item, (list, tuple)):
            entries = list(islice(item, limit // 3 + 1))
            close, open_ = ("]", "[") if isinstance(item, list) else (",)" if len(item) == 1 else ")", "(")
            stack.append(_Text(close))
            for i, v in reversed(list(enumerate(entries))):
                stack += [v] + ([_Text(", ")] if i else [])
            piece = open_
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 4 * limit:
            piece = f"<an integer of {item.bit_length()} bits>"
        elif type(item).__module__ == "numpy" and getattr(item, "ndim", None) == 0:
            piece = repr(item.item())[:limit + 1]   # a value read by pandas: 2, as the file has it, not np.int64(2)
        else:
            piece = repr(item)[:limit + 1]
        out.append(piece)
        size += len(piece)
    text = "".join(out)
    return text if len(text) <= limit and not stack else text[:limit - 3] + "..."


class _Text(str):
    """Punctuation already in its final form (not a value to show with ``repr``)."""
