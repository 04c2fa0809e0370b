"""Mapping an export's event names to the touchpoints of a map (``--touchpoints FILE``).

Analytics exports log events (``page_view``, ``add_to_cart``, ``session_start``),
not the touchpoints a strategist maps. A touchpoint map names the touchpoint of each
event, optionally by a pattern of another column of the same row (a ``page_view``
whose ``page_location`` matches ``*/pricing*`` is the pricing page). Two forms:

YAML (or JSON): ``event: touchpoint``, or ``event:`` and a list of rules tried in
order, each ``{column: COLUMN, pattern: GLOB, touchpoint: NAME}`` or, last, a plain
``{touchpoint: NAME}``::

    add_to_cart: cart
    session_start: null          # dropped on purpose
    page_view:
      - {column: page_location, pattern: "*/pricing*", touchpoint: pricing page}
      - {touchpoint: other page}

CSV: the columns ``event`` and ``touchpoint``, and optionally ``column`` and
``pattern``; rows for one event are tried in file order.

The first rule of an event that applies wins. Patterns are globs matched against
the whole text of the column (``*``: any text, ``?``: one character; case matters);
an empty value never matches. Event names are compared trimmed of spaces. An empty
touchpoint (``null`` in YAML) drops the event on purpose; events the map does not
name are dropped too, or kept under their own names (``--keep-unmapped``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from journeysim._files import read_document
from journeysim.errors import DataError, excerpt
from journeysim.logs._sql import literal, trimmed

__all__ = ["Rule", "TouchpointMap", "read_touchpoint_map", "glob_regex"]

_SPECIAL = set("\\.^$|?*+()[]{}")


def glob_regex(pattern: str) -> str:
    """A glob (``*``, ``?``) as a regular expression matching the whole text, for RE2 (DuckDB and Arrow).

    Examples
    --------
    >>> glob_regex("*/pricing?x=1")
    '(?s)^(?:.*/pricing.x=1)$'
    >>> glob_regex("a.b(c)")
    '(?s)^(?:a\\\\.b\\\\(c\\\\))$'
    """
    body = "".join(".*" if ch == "*" else "." if ch == "?" else "\\" + ch if ch in _SPECIAL else ch
                   for ch in pattern)
    return f"(?s)^(?:{body})$"


@dataclass(frozen=True)
class Rule:
    """One rule of a touchpoint map: ``event`` (with ``column`` matching ``pattern``) is ``touchpoint``
    (``None``: dropped). ``where`` says where the rule is written, for messages."""

    event: str
    touchpoint: str | None
    column: str | None = None
    pattern: str | None = None
    where: str = ""


@dataclass(frozen=True)
class TouchpointMap:
    """Rules from event names (and patterns of other columns) to touchpoints; see the module docstring.

    Examples
    --------
    >>> m = TouchpointMap("map.yaml", (Rule("page_view", "pricing", "url", "*/pricing*"),
    ...                                Rule("page_view", "page"), Rule("add_to_cart", "cart")))
    >>> m.columns, m.plain("page_view"), m.plain("scroll")
    (('url',), 'page', None)
    """

    source: str
    rules: tuple[Rule, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the patterns read."""
        return tuple(dict.fromkeys(r.column for r in self.rules if r.column is not None))

    @cached_property
    def _events(self) -> dict[str, list[Rule]]:
        events: dict[str, list[Rule]] = {}
        for rule in self.rules:
            events.setdefault(rule.event, []).append(rule)
        return events

    def knows(self, event: str) -> bool:
        """Whether some rule names ``event``."""
        return event in self._events

    def plain(self, event: str) -> str | None:
        """The touchpoint of ``event`` when none of its patterns applies (``None``: dropped or unmapped)."""
        return next((r.touchpoint for r in self._events.get(event, ()) if r.column is None), None)

    def sql(self, event: str, column, keep: bool) -> str:
        """SQL for the touchpoint of each row, NULL for a row dropped.

        ``event`` is the SQL of the trimmed event name (never empty here), ``column(name)``
        the SQL of a pattern column's text, ``keep``: an unmapped event keeps its name.
        """
        cases = []
        for name, rules in self._events.items():
            for rule in rules:
                target = "NULL" if rule.touchpoint is None else literal(rule.touchpoint)
                test = f"{event} = {literal(name)}"
                if rule.column is not None:
                    test += f" AND coalesce(regexp_full_match({column(rule.column)}, {literal(glob_regex(rule.pattern))}), false)"
                cases.append(f"WHEN {test} THEN {target}")
        otherwise = event if keep else "NULL"
        return f"(CASE {' '.join(cases)} ELSE {otherwise} END)" if cases else otherwise

    def apply(self, names: list[str | None], codes: np.ndarray, columns, keep: bool) -> tuple[list[str], np.ndarray]:
        """Touchpoints of a block of events, by Arrow's RE2 as :meth:`sql` does in DuckDB.

        ``names`` are the block's distinct (trimmed) event names (``None``: no event)
        and ``codes`` each event's index into them; ``columns(name)`` is a pattern
        column as an Arrow array. Returns the touchpoint names and each event's index
        into them (-1: dropped, or no event).
        """
        import pyarrow.compute as pc

        events = self._events
        targets: dict[str, int] = {}

        def index(touchpoint: str | None) -> int:
            return -1 if touchpoint is None else targets.setdefault(touchpoint, len(targets))

        base = np.array([-1 if n is None else index(self.plain(n) if self.knows(n) else (n if keep else None))
                         for n in names], np.int64)
        out = base[codes]
        for k, name in enumerate(names):
            patterned = [r for r in events.get(name, ()) if r.column is not None] if name is not None else []
            if not patterned:
                continue
            rows = np.flatnonzero(codes == k)
            if not len(rows):
                continue
            for rule in reversed(patterned):   # the first rule that applies is written last
                text = columns(rule.column).take(rows)
                hit = pc.match_substring_regex(text, pattern=glob_regex(rule.pattern)).fill_null(False)
                out[rows[hit.to_numpy(zero_copy_only=False)]] = index(rule.touchpoint)
        return list(targets), out


def read_touchpoint_map(path: str | os.PathLike) -> TouchpointMap:
    """Read a touchpoint map (YAML, JSON or CSV; see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` file (columns ``event``, ``touchpoint`` and optionally ``column``,
        ``pattern``), or YAML/JSON (``{event: touchpoint}`` or ``{event: [rules]}``).

    Returns
    -------
    TouchpointMap

    Raises
    ------
    DataError
        A malformed file, or a rule that can never apply, named with its line or event.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d) / "touchpoints.csv"
    ...     _ = f.write_text("event,column,pattern,touchpoint\\npage_view,page_location,*/pricing*,pricing\\n"
    ...                      "page_view,,,page\\nadd_to_cart,,,cart\\n")
    ...     m = read_touchpoint_map(f)
    >>> [(r.event, r.column, r.pattern, r.touchpoint) for r in m.rules]
    [('page_view', 'page_location', '*/pricing*', 'pricing'), ('page_view', None, None, 'page'), ('add_to_cart', None, None, 'cart')]
    """
    source = str(path)
    if not Path(path).is_file():
        raise DataError(f"{source}: no such file" if not Path(path).exists() else f"{source}: not a file")
    rules = _csv_rules(path, source) if Path(path).suffix.lower() == ".csv" else _document_rules(path, source)
    if not rules:
        raise DataError(f"{source}: the touchpoint map has no rules (map event names to touchpoints)")
    _check_order(rules, source)
    return TouchpointMap(source, tuple(rules))


def _text(value, where: str, what: str, *, optional: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not trimmed(value)):
        if optional:
            return None
        raise DataError(f"{where}: {what} is empty")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise DataError(f"{where}: {what} must be text, not {excerpt(value)}")
    return trimmed(str(value))


def _rule(event, touchpoint, column, pattern, where: str) -> Rule:
    event = _text(event, where, "event", optional=False)
    column, pattern = _text(column, where, "column"), (None if pattern is None or pattern == "" else str(pattern))
    if (column is None) != (pattern is None):
        raise DataError(f"{where}: event {excerpt(event)}: 'column' and 'pattern' go together (a pattern of that column)")
    return Rule(event, _text(touchpoint, where, "touchpoint"), column, pattern, where)


def _csv_rules(path, source: str) -> list[Rule]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:   # spreadsheets save a byte-order mark
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in reader.fieldnames or []]
            if not {"event", "touchpoint"} <= set(fields) or not set(fields) <= {"event", "touchpoint", "column",
                                                                                 "pattern"}:
                raise DataError(f"{source}: a touchpoint map CSV has the columns event and touchpoint, and "
                                f"optionally column and pattern (found {', '.join(fields) or 'none'})")
            reader.fieldnames = fields
            return [_rule(r["event"], r["touchpoint"], r.get("column"), r.get("pattern"),
                          f"{source}: line {reader.line_num}") for r in reader]
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _document_rules(path, source: str) -> list[Rule]:
    data, problems = read_document(path)
    if problems:
        raise DataError(problems[0])
    if not isinstance(data, Mapping):
        raise DataError(f"{source}: a touchpoint map maps event names to touchpoints ({{event: touchpoint}}, or "
                        "{event: [rules]})")
    rules = []
    for event, target in data.items():
        where = f"{source}: event {excerpt(event)}"
        if not isinstance(target, list):
            rules.append(_rule(event, target, None, None, where))
            continue
        for i, item in enumerate(target, 1):
            at = f"{where}, rule {i}"
            if not isinstance(item, Mapping) or "touchpoint" not in item or set(item) - {"touchpoint", "column",
                                                                                          "pattern"}:
                raise DataError(f"{at}: a rule is {{touchpoint: NAME}} with, optionally, column and pattern")
            rules.append(_rule(event, item["touchpoint"], item.get("column"), item.get("pattern"), at))
    return rules


def _check_order(rules: list[Rule], source: str) -> None:
    """Refuse a rule that can never apply: one after its event's rule without a pattern."""
    plain: dict[str, Rule] = {}
    for rule in rules:
        if rule.event in plain:
            first = plain[rule.event]
            raise DataError(f"{rule.where}: event {excerpt(rule.event)} is already mapped to "
                            f"{excerpt(first.touchpoint)} whatever its columns ({first.where}), so this rule never applies")
        if rule.column is None:
            plain[rule.event] = rule
