"""How an export's columns become an event log: column names, conversion flags, epoch times, event names.

Real exports name their columns otherwise (``customer_id, event_time, channel``),
mark a conversion with a flag on the touch that converted (``interaction =
conversion``, its value beside it) instead of a goal row of its own, write times as
numbers since 1970 and log events (``page_view`` with a ``page_location``) rather
than the touchpoints a strategist maps. A :class:`LogLayout` says all of that once,
and every reader (DuckDB's and the fast CSV pass) takes its columns and flags from
it, so that one log fits the same map whatever its layout.

A row flagged as a conversion is a conversion right after that row's touchpoint:
the touch, then the goal at the same instant with the row's value. A flagged row
without a touchpoint is the conversion alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from journeysim.errors import UsageError, excerpt
from journeysim.logs._sql import literal, trimmed
from journeysim.logs.touchpoints import TouchpointMap

__all__ = ["LogLayout", "ROLES", "OPTIONS", "TIME_UNITS", "UNIT_NAMES", "DEFAULT_GOAL", "parse_conversion"]

#: An event log's columns, by the names a log without a layout uses.
ROLES = ("user_id", "timestamp", "touchpoint", "value", "segment")
#: The command-line option that names each column.
OPTIONS = {"user_id": "--user-column", "timestamp": "--time-column", "touchpoint": "--touchpoint-column",
           "value": "--value-column", "segment": "--segment-column"}
#: Microseconds per unit of an epoch time column (``--time-unit``).
TIME_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1}
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
#: The goal a conversion-flag log's conversions reach, unless ``--goal`` names it.
DEFAULT_GOAL = "conversion"
# Flag texts, compared trimmed and in lower case; a missing flag is no conversion.
_TRUE = ("1", "1.0", "true", "yes")
_FALSE = ("0", "0.0", "false", "no", "")
_FIELDS = {"user_id": "user", "timestamp": "time", "touchpoint": "touchpoint", "value": "value",
           "segment": "segment"}


def parse_conversion(text: str) -> tuple[str, str | None]:
    """``--conversion-column COLUMN[=VALUE]`` as ``(column, value)`` (``None``: the column is a true/false flag).

    Examples
    --------
    >>> parse_conversion("interaction=conversion"), parse_conversion("converted")
    (('interaction', 'conversion'), ('converted', None))
    >>> parse_conversion("=yes")
    Traceback (most recent call last):
    journeysim.errors.UsageError: --conversion-column '=yes': name the column (COLUMN or COLUMN=VALUE)
    """
    column, eq, value = str(text).partition("=")
    if not column.strip():
        raise UsageError(f"--conversion-column {excerpt(text)}: name the column (COLUMN or COLUMN=VALUE)")
    if eq and not value.strip():
        raise UsageError(f"--conversion-column {excerpt(text)}: give the value that marks a conversion after '=' "
                         "(or leave '=' out for a true/false column)")
    return column.strip(), (value.strip() if eq else None)


@dataclass(frozen=True)
class LogLayout:
    """The layout of an event log export.

    Parameters
    ----------
    user, time, touchpoint, value, segment : str or None
        The file's names of the columns ``user_id``, ``timestamp``, ``touchpoint``,
        ``value`` and ``segment``; ``None`` keeps those names (``value`` and
        ``segment`` are then optional; named, they must be present).
    conversion : str or None
        A column whose rows flag conversions: true/false (1/0, yes/no), or equal to
        ``conversion_value``.
    conversion_value : str or None
        The text of ``conversion`` that marks a conversion (e.g. ``conversion`` for
        ``interaction=conversion``); ``None``: the column is a true/false flag.
    time_unit : ``"s"``, ``"ms"``, ``"us"`` or None
        The time column holds numbers of seconds, milliseconds or microseconds since
        1970 (UTC); ``None``: dates and times.
    touchpoints : TouchpointMap or None
        Event names (and patterns of another column) to touchpoints; events it does
        not map are dropped, or kept under their own names with ``keep_unmapped``.

    Examples
    --------
    >>> layout = LogLayout(user="customer_id", conversion="interaction", conversion_value="conversion")
    >>> layout.column("user_id"), layout.column("timestamp"), layout.describe_conversion()
    ('customer_id', 'timestamp', "'interaction' equals 'conversion'")
    >>> [layout.is_conversion(t) for t in ("conversion", " conversion ", "impression", None)]
    [True, True, False, False]
    >>> LogLayout(conversion="converted").is_conversion("maybe") is None
    True
    """

    user: str | None = None
    time: str | None = None
    touchpoint: str | None = None
    value: str | None = None
    segment: str | None = None
    conversion: str | None = None
    conversion_value: str | None = None
    time_unit: str | None = None
    touchpoints: TouchpointMap | None = None
    keep_unmapped: bool = False

    def __post_init__(self):
        for role, name in _FIELDS.items():
            given = getattr(self, name)
            if given is not None and (not isinstance(given, str) or not given.strip()):
                raise UsageError(f"{OPTIONS[role]} {excerpt(given)}: name a column")
        if self.time_unit is not None and self.time_unit not in TIME_UNITS:
            raise UsageError(f"--time-unit {excerpt(self.time_unit)}: must be s, ms or us (seconds, milliseconds or "
                             "microseconds since 1970)")
        if self.conversion_value is not None and self.conversion is None:
            raise UsageError("conversion_value needs conversion (the column it is a value of)")
        if self.keep_unmapped and self.touchpoints is None:
            raise UsageError("--keep-unmapped has no effect without --touchpoints (every event is kept)")

    def column(self, role: str) -> str:
        """The file's name of the column ``role`` (one of :data:`ROLES`)."""
        return getattr(self, _FIELDS[role]) or role

    def given(self, role: str) -> bool:
        """Whether the column ``role`` was named (then it must be present)."""
        return getattr(self, _FIELDS[role]) is not None

    @property
    def unit_micros(self) -> int | None:
        """Microseconds per unit of an epoch time column, or ``None`` for dates and times."""
        return None if self.time_unit is None else TIME_UNITS[self.time_unit]

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES.get(self.time_unit or "", "")

    def is_conversion(self, text: str | None) -> bool | None:
        """Whether a conversion column's text marks a conversion; ``None`` if it is not a flag at all."""
        if self.conversion_value is not None:
            return text is not None and trimmed(text) == self.conversion_value
        word = "" if text is None else trimmed(text).lower()
        return True if word in _TRUE else False if word in _FALSE else None

    def conversion_sql(self, expr: str) -> str:
        """SQL of :meth:`is_conversion` over the text ``expr``: true, false, or NULL (not a flag)."""
        if self.conversion_value is not None:
            return f"coalesce(trim({expr}) = {literal(self.conversion_value)}, false)"
        word = f"lower(trim(coalesce({expr}, '')))"
        true, false = (", ".join(map(literal, words)) for words in (_TRUE, _FALSE))
        return f"CASE WHEN {word} IN ({true}) THEN true WHEN {word} IN ({false}) THEN false END"

    def describe_conversion(self) -> str:
        """The conversion rule in words, for messages."""
        if self.conversion_value is not None:
            return f"{excerpt(self.conversion)} equals {excerpt(self.conversion_value)}"
        return f"{excerpt(self.conversion)} is true"
