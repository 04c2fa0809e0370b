"""Plain-text tables for ``summary()`` methods (rich, rendered without colour)."""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["format_table", "fmt", "interval", "pct", "pct_interval"]


def fmt(value, digits: int = 4) -> str:
    """Format a number for a table cell; ``None`` shows as ``-``.

    Examples
    --------
    >>> fmt(0.123456), fmt(None), fmt(12), fmt(1234567.0)
    ('0.1235', '-', '12', '1.235e+06')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3) else f"{value:.{digits}f}"
    return str(value)


def interval(pair, signed: bool = False, missing: str = "-") -> str:
    """An interval as ``[low, high]`` (signed numbers with ``signed``), ``missing`` when there is none.

    Examples
    --------
    >>> interval((0.0123456, 0.2)), interval((-0.001, 0.002), signed=True), interval(None)
    ('[0.0123, 0.2000]', '[-0.001, +0.002]', '-')
    """
    if pair is None:
        return missing
    f = (lambda v: f"{v:+.4g}") if signed else fmt  # noqa: E731
    return f"[{f(pair[0])}, {f(pair[1])}]"


def pct(x: float | None) -> str:
    """A relative change as a signed percentage, ``-`` when unknown.

    >>> pct(0.0512), pct(None)
    ('+5.12%', '-')
    """
    return "-" if x is None else f"{100 * x:+.2f}%"


def pct_interval(pair) -> str:
    """An interval of relative changes, ``[low, high]`` in signed percentages.

    >>> pct_interval((-0.01, 0.2))
    '[-1.00%, +20.00%]'
    """
    return "-" if pair is None else f"[{pct(pair[0])}, {pct(pair[1])}]"


def format_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence], width: int = 100) -> str:
    """Render rows as a boxed text table."""
    from rich.console import Console  # loaded with the first table: validate and --help print none
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*(c if isinstance(c, str) else fmt(c) for c in row))
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False).print(table)
    return buf.getvalue().rstrip("\n")
