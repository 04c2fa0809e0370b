"""Quoting names and text into DuckDB SQL."""

from __future__ import annotations

__all__ = ["quote", "literal"]


def quote(name: str) -> str:
    """A SQL identifier, quoted.

    Examples
    --------
    >>> print(quote('a "b" c'))
    "a ""b"" c"
    """
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL text literal.

    Examples
    --------
    >>> literal("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"
