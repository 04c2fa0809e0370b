"""Writing a :class:`~journeysim.report.document.Report`: one self-contained HTML page and Markdown with PNGs.

The HTML page embeds its pictures as base64 ``data:`` URIs, carries its own CSS
and no script, so it opens without network access; every piece of text goes
through :func:`html.escape`. The Markdown file sits beside the PNG files it
links. Each file is written atomically, the HTML page last.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

from journeysim._files import check_folder_writable, nearest_existing, write_folder
from journeysim._safe import terminal_text
from journeysim.errors import OutputError, UsageError
from journeysim.report.document import Report, Table

__all__ = ["render_html", "render_markdown", "write_report", "check_report_folder"]

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 60em; color: #1d2733;
       background: #ffffff; line-height: 1.45; }
h1 { border-bottom: 3px solid #2a9d8f; padding-bottom: .2em; }
h2 { margin-top: 1.6em; color: #4c6a92; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #c8d1dc; padding: .25em .6em; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
th { background: #e9eef5; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e0e6ee; }
figcaption, .method { color: #5a6675; font-size: .9em; }
"""


# Cells that read as numbers, percentages or intervals are right-aligned.
_NUMBER = re.compile(r"^[-+\[]?\s*[-+]?(\d|-$)")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(table: Table, header: bool = True) -> str:
    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in table.headers) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(c)}</td>' if _NUMBER.match(str(c)) else f"<td>{_e(c)}</td>"
                                    for c in row) + "</tr>" for row in table.rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The report as one HTML page with its pictures inside.

    Examples
    --------
    >>> page = render_html(Report("simulate", 'A <b>"bold"</b> map'))
    >>> "<title>A &lt;b&gt;&quot;bold&quot;&lt;/b&gt; map</title>" in page
    True
    """
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{_e(report.title)}</h1>", f"<p class=\"method\">journeysim report: {_e(report.kind)}</p>"]
    if report.facts:
        parts.append(_html_table(Table(("fact", "value"), report.facts), header=False))
    for section in report.sections:
        parts.append(f"<h2>{_e(section.heading)}</h2>")
        parts += [f"<p>{_e(p)}</p>" for p in section.paragraphs]
        parts += [_html_table(t) for t in section.tables]
        for plot in section.plots:
            data = base64.b64encode(plot.png).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(plot.title)}">'
                         f"<figcaption>{_e(plot.caption)}</figcaption></figure>")
    if report.method:
        parts.append("<h2>Method</h2>")
        parts += [f'<p class="method">{_e(m)}</p>' for m in report.method]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# Characters with inline meaning anywhere, and those that start a block at the beginning of a line.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|&~])")
_MD_BLOCK = re.compile(r"^(\s*)(#|[+\-](?=\s|$)|\d+(?=[.)](?:\s|$)))")
# Every line break a Markdown reader honours (a carriage return alone starts a new line, then a heading).
_MD_BREAKS = re.compile("[\r\n\v\f\x85\u2028\u2029]+")


def _md(text: object) -> str:
    escaped = terminal_text(_MD_BREAKS.sub(" ", _MD_INLINE.sub(r"\\\1", str(text))))

    # A list number is escaped on its punctuation ("1\\."), a marker or heading sign before itself.
    def mark(m: re.Match) -> str:
        sign = m.group(2)
        return m.group(1) + (sign + "\\" if sign[0].isdigit() else "\\" + sign)

    return _MD_BLOCK.sub(mark, escaped)


def _md_table(table: Table) -> str:
    lines = ["| " + " | ".join(_md(h) for h in table.headers) + " |",
             "|" + "|".join(" --- " for _ in table.headers) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """The report as Markdown linking ``<plot name>.png`` files beside it.

    Examples
    --------
    >>> print(render_markdown(Report("simulate", "Shop | *best*")).splitlines()[0])
    # Shop \\| \\*best\\*
    """
    parts = [f"# {_md(report.title)}", f"journeysim report: {_md(report.kind)}"]
    if report.facts:
        parts.append(_md_table(Table(("fact", "value"), report.facts)))
    for section in report.sections:
        parts.append(f"## {_md(section.heading)}")
        parts += [_md(p) for p in section.paragraphs]
        parts += [_md_table(t) for t in section.tables]
        parts += [f"![{_md(p.title)}]({p.name}.png)\n\n{_md(p.caption)}" for p in section.plots]
    if report.method:
        parts.append("## Method")
        parts += [_md(m) for m in report.method]
    return "\n\n".join(parts) + "\n"


def check_report_folder(directory: str | os.PathLike) -> None:
    """Refuse a report folder that cannot be created, before a long computation rather than after it.

    An :class:`~journeysim.errors.OutputError` (exit 1 on the command line, as for every other unwritable output).

    Nothing is created: a run that then fails on its input leaves no empty folder behind.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     check_report_folder(Path(f.name) / "report")
    Traceback (most recent call last):
    journeysim.errors.OutputError: ...: cannot create the report folder (... is a file, not a folder)
    """
    out = Path(directory)
    existing = nearest_existing(out)
    if not existing.is_dir():
        where = "it is a file" if existing == out else f"{existing} is a file"
        raise OutputError(f"{out}: cannot create the report folder ({where}, not a folder)")
    try:
        check_folder_writable(out)       # a probe file: sees read-only disks and ACLs, which permission bits do not
    except OutputError as exc:
        raise OutputError(f"{out}: cannot create the report folder ({(exc.strerror or 'not writable').lower()} in "
                         f"{existing})") from None


def write_report(report: Report, directory: str | os.PathLike) -> tuple[Path, ...]:
    """Write ``report.html``, ``report.md`` and one PNG per plot as the whole of ``directory``.

    The folder is built beside its place and swapped in whole (see :func:`journeysim._files.write_folder`):
    a command killed mid-way leaves the previous report, never new pictures beside an old page. A folder
    that holds files journeysim did not write is refused rather than emptied.

    Returns the paths written: ``(html, markdown, *pngs)``.
    """
    out = Path(directory)
    names = [p.name for p in report.plots]
    if len(set(names)) != len(names):
        raise ValueError(f"plot names must be unique within a report: {names}")
    files: dict[str, str | bytes] = {f"{plot.name}.png": plot.png for plot in report.plots}
    files["report.md"] = render_markdown(report)
    files["report.html"] = render_html(report)
    try:
        write_folder(out, files, "report")
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    return (out / "report.html", out / "report.md", *(out / f"{name}.png" for name in names))
