"""A journey drawn as inline SVG, by hand: stages as columns, so that a notebook shows a map with no plotting library.

The drawing takes plain data (columns of touchpoints, weighted edges), not a
:class:`~journeysim.journey.Journey`, so the journey can draw itself without an
import cycle. Every name is escaped; a name too long for its box is shortened
and given in full in the box's tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

__all__ = ["layered_svg"]

_GOAL, _NODE, _EDGE, _TEXT = "#2a9d8f", "#e9eef5", "#4c6a92", "#222222"
_COLUMN, _ROW, _BOX_W, _BOX_H, _TOP, _LEFT = 190, 54, 150, 32, 34, 40
_CHARS = 21


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _short(name: str) -> str:
    return name if len(name) <= _CHARS else name[: _CHARS - 1] + "…"


def layered_svg(columns: Sequence[tuple[str, Sequence[str]]], edges: Mapping[tuple[str, str], float],
                goals: Sequence[str] = (), entry: Mapping[str, float] | None = None) -> str:
    """An SVG document: one column per ``(title, touchpoints)``, one arrow per edge, width by its weight.

    ``edges`` maps ``(from, to)`` to a probability in [0, 1]; ``entry`` gives the
    share of new customers starting at each touchpoint (drawn as a short arrow
    from the left).

    Examples
    --------
    >>> svg = layered_svg([("awareness", ["ad <1>"]), ("purchase", ["buy"])], {("ad <1>", "buy"): 0.25},
    ...                   goals=["buy"], entry={"ad <1>": 1.0})
    >>> svg.startswith("<svg") and "ad &lt;1&gt;" in svg and "ad <1>" not in svg
    True
    >>> svg.count("marker-end")    # the edge and the entry arrow
    2
    """
    entry = entry or {}
    pos = {}
    for x, (_, names) in enumerate(columns):
        for y, name in enumerate(names):
            pos[name] = (_LEFT + x * _COLUMN, _TOP + y * _ROW)
    rows = max((len(names) for _, names in columns), default=1)
    width, height = _LEFT + len(columns) * _COLUMN, _TOP + rows * _ROW + 18
    goal_set = set(goals)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<defs><marker id="js-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{_EDGE}"/></marker></defs>']
    for x, (title, _) in enumerate(columns):
        out.append(f'<text x="{_LEFT + x * _COLUMN + _BOX_W / 2}" y="16" text-anchor="middle" font-weight="bold" '
                   f'fill="{_TEXT}">{_esc(_short(title))}<title>{_esc(title)}</title></text>')
    for (a, b), p in edges.items():
        if a not in pos or b not in pos or a == b or p <= 0:
            continue
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ya, yb = ya + _BOX_H / 2, yb + _BOX_H / 2
        if xb > xa:            # forward: right side to left side
            x0, x1 = xa + _BOX_W, xb
            bend = (x1 - x0) / 2
            d = f"M{x0},{ya} C{x0 + bend},{ya} {x1 - bend},{yb} {x1},{yb}"
        elif xb < xa:          # backward: left side to right side
            x0, x1 = xa, xb + _BOX_W
            bend = (x0 - x1) / 2
            d = f"M{x0},{ya} C{x0 - bend},{ya} {x1 + bend},{yb} {x1},{yb}"
        else:                  # within a column: an arc beside the boxes' right edges
            reach = 30 + 12 * abs(ya - yb) / _ROW
            d = f"M{x0},{ya} C{x0 + reach},{ya} {x1 + reach},{yb} {x1},{yb}"
        out.append(f'<path d="{d}" fill="none" stroke="{_EDGE}" stroke-opacity="0.6" '
                   f'stroke-width="{0.6 + 4 * min(p, 1.0):.2f}" marker-end="url(#js-arrow)">'
                   f'<title>{_esc(a)} → {_esc(b)}: p = {p:.4g}</title></path>')
    for name, share in entry.items():
        if name in pos and share > 0:
            x, y = pos[name]
            out.append(f'<path d="M{x - 30},{y + _BOX_H / 2} L{x},{y + _BOX_H / 2}" stroke="{_TEXT}" '
                       f'stroke-width="1.5" marker-end="url(#js-arrow)"><title>entry: {share:.4g} of new '
                       f'customers start at {_esc(name)}</title></path>')
    for name, (x, y) in pos.items():
        goal = name in goal_set
        out.append(f'<g><title>{_esc(name)}{" (goal)" if goal else ""}</title>'
                   f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="7" '
                   f'fill="{_GOAL if goal else _NODE}" stroke="#555555"/>'
                   f'<text x="{x + _BOX_W / 2}" y="{y + _BOX_H / 2 + 4}" text-anchor="middle" '
                   f'fill="{"white" if goal else _TEXT}">{_esc(_short(name))}</text></g>')
    out.append(f'<text x="4" y="{height - 4}" font-size="10" fill="#666666">goals in green; arrow width: '
               'transition probability; hover for values</text>')
    out.append("</svg>")
    return "".join(out)
