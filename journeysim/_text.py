"""Plain text for people: table cells (counts, money, rates, changes) and tables that fit the terminal.

Formatting is for people only: JSON keeps the raw numbers. Counts are whole and grouped (``15,086``), money is
grouped with its currency (``11,770,000 EUR``), rates and relative changes are percentages. Tables are rendered
with rich, without colour or markup (a touchpoint may be named ``[bold]``), at the terminal's width: columns
wrap or fold rather than run past the edge.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import math
import os
import shutil
import sys
from collections.abc import Iterator, Sequence

from journeysim._safe import terminal_text

__all__ = ["format_table", "fmt", "interval", "count", "money", "rate", "rate_interval", "points", "pct", "pct_interval",
           "percent_level",
           "table_width", "wrap", "currency_context"]

# The currency the command line asks for (``--currency``) and the project's default (``journeysim.toml``):
# command line > map > project config.
_CURRENCY: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "journeysim_currency", default=(None, None))


#: From this magnitude on, numbers are written in scientific notation: grouped digits would run across the terminal.
HUGE = 1e15


def _scientific(value, sign: str = "") -> str:
    return f"{float(value):{sign}.4g}"


def fmt(value, digits: int = 4) -> str:
    """Format a number for a table cell; ``None`` shows as ``-``, whole numbers are grouped.

    Examples
    --------
    >>> fmt(0.123456), fmt(None), fmt(12), fmt(15086), fmt(1234567.0), fmt(2.5e-5)
    ('0.1235', '-', '12', '15,086', '1,234,567', '2.5e-05')
    >>> fmt(4.969e306), fmt(10**40)          # not 400 digits across the terminal
    ('4.969e+306', '1e+40')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < HUGE else _scientific(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= HUGE:
            return _scientific(value)
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}" if value != 0 and abs(value) < 1e-3 else f"{value:.{digits}f}"
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


def count(value) -> str:
    """A count: whole and grouped (a count held as a float, ``825.0``, included).

    Examples
    --------
    >>> count(825.0), count(11770000), count(None), count(3e299)
    ('825', '11,770,000', '-', '3e+299')
    """
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{round(value):,}" if abs(value) < HUGE else _scientific(value)


@contextlib.contextmanager
def currency_context(override: str | None = None, default: str | None = None) -> Iterator[None]:
    """Within the block, :func:`money` shows ``override`` (the command line's ``--currency``) before a map's
    own currency, and ``default`` (the project's) when neither is given.

    Examples
    --------
    >>> with currency_context(default="EUR"):
    ...     money(12.5), money(12.5, "CZK")
    ('12.50 EUR', '12.50 CZK')
    >>> with currency_context(override="USD"):
    ...     money(12.5, "CZK")
    '12.50 USD'
    """
    token = _CURRENCY.set((override, default))
    try:
        yield
    finally:
        _CURRENCY.reset(token)


def money(value, currency: str | None = None, signed: bool = False, cents: bool | None = None) -> str:
    """An amount of money, grouped, with its currency when one is known.

    Amounts from 10,000 up are whole, smaller ones keep cents (``cents`` decides when given). ``currency`` is the map's (``currency: EUR``);
    see :func:`currency_context` for the command line's and the project's.

    Examples
    --------
    >>> money(11770000.0, "EUR"), money(1.98765), money(-40559.2), money(None, "EUR"), money(0.17, signed=True)
    ('11,770,000 EUR', '1.99', '-40,559', '-', '+0.17')
    >>> money(9755.16, cents=False), money(4.989e306, "EUR")
    ('9,755', '4.989e+306 EUR')

    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return fmt(value)
    override, default = _CURRENCY.get()
    unit = override or currency or default
    sign = "+" if signed else ""
    digits = (0 if abs(value) >= 10_000 else 2) if cents is None else 2 * cents
    text = f"{value:{sign},.{digits}f}" if abs(value) < HUGE else _scientific(value, sign)
    return f"{text} {unit}" if unit else text


def rate(value, digits: int = 2) -> str:
    """A probability or a share as a percentage; small ones keep three significant digits.

    Examples
    --------
    >>> rate(0.0484), rate(1.0), rate(0.000134), rate(0.0), rate(None)
    ('4.84%', '100.00%', '0.0134%', '0.00%', '-')
    """
    if value is None:
        return "-"
    percent = 100 * value
    if percent != 0 and abs(percent) < 0.1:
        return f"{percent:.3g}%"
    return f"{percent:.{digits}f}%"


def rate_interval(pair) -> str:
    """An interval of rates, ``[low, high]`` in percentages.

    >>> rate_interval((0.0438, 0.0506))
    '[4.38%, 5.06%]'
    """
    return "-" if pair is None else f"[{rate(pair[0])}, {rate(pair[1])}]"


def points(x: float | None, signed: bool = True) -> str:
    """A difference of two rates in percentage points (signed unless ``signed=False``).

    >>> points(0.00304), points(0.000996), points(-0.0000512), points(0.0001345, signed=False), points(None)
    ('+0.30 pp', '+0.10 pp', '-0.0051 pp', '0.01 pp', '-')
    """
    if x is None:
        return "-"
    value, sign = 100 * x, "+" if signed else ""
    return f"{value:{sign}.2g} pp" if value != 0 and abs(value) < 0.01 else f"{value:{sign}.2f} pp"


def percent_level(x: float) -> str:
    """An interval's level as a percentage, as given: a 97.5% interval is not called a 98% one.

    >>> percent_level(0.9), percent_level(0.975), percent_level(0.999)
    ('90%', '97.5%', '99.9%')
    """
    return f"{100 * x:g}%"


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


def table_width() -> int | None:
    """Columns to fit: ``COLUMNS`` when set, else the terminal's; ``None`` (no limit) when output is not a
    terminal, so that a table piped to a file or to ``grep`` keeps one line per row.

    Examples
    --------
    >>> import os
    >>> os.environ["COLUMNS"] = "80"; table_width()
    80
    >>> del os.environ["COLUMNS"]
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout is not None and sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def wrap(text: str, indent: str = "  ", width: int | None = None) -> str:
    """Wrap a line of prose to ``width`` (default :func:`table_width`; continuation lines indented); as is when
    there is no width.

    >>> import os
    >>> os.environ["COLUMNS"] = "30"
    >>> print(wrap("method: an absorbing Markov chain solved exactly"))
    method: an absorbing Markov
      chain solved exactly
    >>> del os.environ["COLUMNS"]
    """
    import textwrap

    width = width or table_width()
    if width is None:
        return text
    return "\n".join(textwrap.fill(line, width, subsequent_indent=indent, break_on_hyphens=False)
                     for line in text.splitlines())


def _wrapped_widths(headers: Sequence[str], cells: list[list[str]], natural: list[int],
                    width: int) -> tuple[list[int] | None, int]:
    """Column widths (and cell padding) for a table that must wrap to ``width``: lines break between words.

    Each column gets room for its longest word (up to a dozen characters): first counting the headers' words,
    else the cells' alone (headers then break inside words, names and numbers stay whole), else with the cells'
    padding dropped, so that a number is never folded over two lines (``13,27`` / ``2`` reads as another number).
    The room left goes, one character at a time, to the column that lacks most of its natural width. ``None``
    when even that does not fit: rich then folds every column.
    """
    from rich.cells import cell_len

    def longest_words(with_headers: bool) -> list[int]:
        return [min(12, max((cell_len(w) for c in [*([h] if with_headers else []),
                                                    *(r[i] for r in cells if i < len(r))] for w in c.split()),
                            default=1)) for i, h in enumerate(headers)]

    for with_headers, padding in ((True, 1), (False, 1), (False, 0)):
        widths = longest_words(with_headers)
        room = width - (2 * padding + 1) * len(headers) - 1
        if sum(widths) <= room:
            break
    else:
        return None, 1
    for _ in range(room - sum(widths)):
        lack, i = max((natural[i] - w, i) for i, w in enumerate(widths))
        if lack <= 0:
            break
        widths[i] += 1
    return widths, padding


def format_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence],
                 width: int | None = None) -> str:
    """Render rows as a boxed text table at most ``width`` columns wide (default :func:`table_width`).

    The first column is left-aligned and wraps first when the table is too wide; the others are right-aligned
    and fold only when wrapping the first is not enough. Cells that are not text go through :func:`fmt`; cells
    are shown as written (no rich markup).

    Examples
    --------
    >>> print(format_table("rows", ["name", "n"], [["[bold]a", 1200]], width=40))
    rows
    ┏━━━━━━━━━┳━━━━━━━┓
    ┃ name    ┃     n ┃
    ┡━━━━━━━━━╇━━━━━━━┩
    │ [bold]a │ 1,200 │
    └─────────┴───────┘
    """
    from rich.cells import cell_len
    from rich.console import Console  # loaded with the first table: validate and --help print none
    from rich.table import Table
    from rich.text import Text

    width = width or table_width()
    cells = [[terminal_text(c) if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    natural = [max([cell_len(h), *(cell_len(r[i]) for r in cells if i < len(r))]) for i, h in enumerate(headers)]
    # When the other columns fit whole beside a first column of a dozen characters, only the first (names,
    # often long) wraps; otherwise every column wraps (see _wrapped_widths).
    rest = sum(natural[1:]) + 3 * len(headers) + 1
    first_only = width is None or width - rest >= min(natural[0], 12)
    widths, padding = (None, 1) if first_only else _wrapped_widths(headers, cells, natural, width)
    table = Table(show_lines=False, padding=(0, padding))
    for i, h in enumerate(headers):
        table.add_column(Text(terminal_text(h)), justify="left" if i == 0 else "right", overflow="fold",
                         no_wrap=first_only and i > 0, width=widths[i] if widths else None)
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    buf = io.StringIO()
    Console(file=buf, width=width or 10_000, color_system=None, force_terminal=False, highlight=False,
            soft_wrap=False).print(table)
    lines = [line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines()]
    # The title is a line of prose above the table: wrapped to the terminal like any other, never to the table's
    # own width (rich's table title would break "interim look 1 of 5 (...)" even in a file or a pipe)
    return "\n".join([*([wrap(terminal_text(title), width=width)] if title else []), *lines])
