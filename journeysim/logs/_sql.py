"""Quoting names and text into DuckDB SQL, and the spaces DuckDB's ``trim`` takes off."""

from __future__ import annotations

__all__ = ["quote", "literal", "SPACES", "trimmed"]

#: What DuckDB's ``trim(x)`` takes off both ends: the space separators (Unicode category Zs), no-break and
#: ideographic spaces included, tabs and line ends not. The fast readers trim names with the same set.
SPACES = "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


def trimmed(text: str) -> str:
    r"""``text`` as DuckDB's ``trim`` leaves it.

    Examples
    --------
    >>> trimmed("\u00a0ad \u3000"), trimmed("\tad")
    ('ad', '\tad')
    """
    return text.strip(SPACES)


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
