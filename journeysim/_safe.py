"""Text made safe for the programs that interpret journeysim's output: spreadsheets, terminals, Mermaid.

Names and titles are any Unicode text, written by whoever wrote the map or the hypothesis. Written as
they are, ``=cmd|' /C calc'!A0`` in a CSV cell is a formula to a spreadsheet, ESC ``[2J`` clears a
terminal, and ``%%{init: ...}%%`` restyles a Mermaid diagram. Each function here turns text into
what its reader shows literally. (Markdown is escaped where it is written, in ``report.html``.)
"""

from __future__ import annotations

import re

__all__ = ["csv_cell", "csv_text", "terminal_text", "TerminalStream", "FORMULA_START"]

#: A CSV cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP,
#: "CSV Injection"): tab and carriage return included, since some spreadsheets skip them first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# C0 controls but newline and tab, DEL, C1 controls (0x9b is CSI to some terminals), the Unicode line and
# paragraph separators, and the bidirectional overrides and isolates (they reorder what a terminal shows).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def csv_cell(value):
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``= + - @``, tab or carriage
    return gets a leading apostrophe (OWASP's rule), and so does text already starting with one, so that
    :func:`csv_text` restores every text exactly. Numbers are written as they are.

    Examples
    --------
    >>> csv_cell("=cmd|' /C calc'!A0"), csv_cell("-2 days"), csv_cell("'quoted'"), csv_cell("cart"), csv_cell(-0.5)
    ("'=cmd|' /C calc'!A0", "'-2 days", "''quoted'", 'cart', -0.5)
    """
    if isinstance(value, str) and value.startswith((*FORMULA_START, "'")):
        return "'" + value
    return value


def csv_text(cell: str) -> str:
    """The text :func:`csv_cell` was given, from the cell it wrote.

    >>> csv_text("'=SUM(A1)"), csv_text("''quoted'"), csv_text("cart")
    ('=SUM(A1)', "'quoted'", 'cart')
    """
    return cell[1:] if cell.startswith("'") else cell


def terminal_text(text: str) -> str:
    """``text`` with every character a terminal would act on written as its ``\\uXXXX`` escape: control
    characters (ESC, C1, carriage return...), line separators and bidirectional overrides. Newlines and
    tabs stay. The escape is also valid inside a JSON string, so JSON output keeps its meaning.

    Examples
    --------
    >>> terminal_text("red\\x1b[31m\\rhome\\u202eevil\\n")
    'red\\\\u001b[31m\\\\u000dhome\\\\u202eevil\\n'
    """
    if text.isascii() and text.isprintable():
        return text
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class TerminalStream:
    """A text stream that writes through :func:`terminal_text` to ``stream`` (the command line's stdout):
    whatever a command prints, a name cannot drive the terminal.

    >>> import io
    >>> out = io.StringIO()
    >>> print("a\\x1b[2Jb", file=TerminalStream(out)); out.getvalue()
    'a\\\\u001b[2Jb\\n'
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_text(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)
