"""A report as data: a title, facts, and sections of text, tables and plots.

Builders in :mod:`journeysim.report.kinds` turn results into a :class:`Report`;
:mod:`journeysim.report.html` writes it as HTML and Markdown. Nothing here
formats for one output or the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:        # matplotlib loads with plots: checking a report folder must not wait for it
    from journeysim.report.plots import Plot

__all__ = ["Table", "Section", "Report"]


@dataclass(frozen=True)
class Table:
    """A table of text cells (numbers already formatted)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self):
        object.__setattr__(self, "headers", tuple(self.headers))
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))


@dataclass(frozen=True)
class Section:
    """A heading with paragraphs, tables and plots, in that order."""

    heading: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    plots: tuple[Plot, ...] = ()


@dataclass(frozen=True)
class Report:
    """A whole report: ``kind`` names the command it reports on.

    Examples
    --------
    >>> r = Report("simulate", "Online store", facts=(("conversion rate", "0.0791"),))
    >>> r.plots
    ()
    """

    kind: str
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[Section, ...] = ()
    method: tuple[str, ...] = field(default=())

    @property
    def plots(self) -> tuple[Plot, ...]:
        return tuple(p for s in self.sections for p in s.plots)
