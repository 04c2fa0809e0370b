"""Reading a clean CSV event log quickly: one streaming typed read, touchpoints numbered on the way.

DuckDB's CSV reader hands every touchpoint and segment over as a string, and hashing
or storing two strings per event cost more than parsing the rest of the row. pyarrow's
streaming reader instead dictionary-encodes both columns block by block, so a block's
events get their (touchpoint, segment) number from a lookup table with one entry per
name pair of the block (names trimmed of spaces, as DuckDB's ``trim``), and its event
counts and value totals are a ``bincount`` each. What streams on (to the pass in file
order, or to DuckDB) is the user id (text), the time in µs and the pair number, block
by block, so the log is never whole in memory.

Only files that read cleanly are read here: an unusual dialect, a conversion error, text
that is not UTF-8, an empty time or touchpoint, an empty segment, or a value that is
negative or not a finite number mark the stream :attr:`CsvEvents.unclean` (and end it
with an error), and DuckDB's reader, which reports the exact bad row, reads the file
instead. An event without a user id (empty, or only spaces as DuckDB's ``trim`` sees them)
is not a bad row but no customer's: it is left out of the stream, after the checks and
after the touchpoint map, and counted (:attr:`CsvEvents.without_user`).
"""

from __future__ import annotations

import re

import duckdb
import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from journeysim.logs._sql import trimmed
from journeysim.logs.layout import ROLES
from journeysim.logs.sources import Source, quote_made

__all__ = ["CsvEvents", "csv_events", "standard_dialect"]

_BLOCK = 1 << 21    # bytes per block: small enough to stay in cache, big enough that per-block Python is noise
_DICT = pa.dictionary(pa.int32(), pa.string())
# User ids are labels, read as text: 007 is not 7 (and 64-bit hash ids would overflow an integer).
_TYPES = {"user_id": pa.string(), "touchpoint": _DICT, "segment": _DICT, "value": pa.float64()}
# A UTC offset after a time of day: Z, +02:00, -0130, +02.
_OFFSET = re.compile(r"\d:\d\d(:\d\d(\.\d*)?)?\s*(Z|[+-]\d\d(:?\d\d)?)\s*$")


def _unclean(path: str, name: str) -> bool:
    """A name for DuckDB's reader to look at: one an unbalanced quote made, or one that runs over a line end
    (an open quote may have swallowed the rows after it; DuckDB tells a multi-line field from that)."""
    return "\n" in name or "\r" in name or quote_made(path, name)


class _Unclean(Exception):
    """The file needs DuckDB's reader (a bad row to report)."""


class CsvEvents:
    """A CSV event log as a stream of ``u``, ``t`` (µs) and ``sc`` (pair number), in file order.

    ``reader`` is read once; afterwards :meth:`names` tells what the numbers stand for and
    ``time_ordered`` whether the file is in time order, unless ``unclean`` is set (the
    stream stopped at a row that needs DuckDB's reader). The pairs are (touchpoint,
    segment, converted): a row flagged as a conversion is a pair of its own (see
    :mod:`journeysim.logs.counts`), and one without a touchpoint is ``goal``'s.
    """

    def __init__(self, source: Source, csv: pacsv.CSVStreamingReader, goal: str | None = None):
        self._source, self._csv, self._goal = source, csv, goal
        layout = source.layout
        self._columns = {role: layout.column(role) for role in ROLES if source.has(role)}
        self._pairs: dict[tuple[str, str | None, bool], int] = {}
        self._totals = np.zeros(0)
        self._visits = np.zeros(0, np.int64)
        self.rows = 0
        self.unclean = False
        #: Every event's time is at or after the one before it in the file (exports often are).
        self.time_ordered = True
        self._last = None
        #: The first and last times (µs) of epoch times (read with a unit, whose plausibility is checked).
        self.span: tuple[int, int] | None = None
        #: Events dropped by the touchpoint map, by name.
        self.dropped: dict[str, int] = {}
        #: Events (that the touchpoint map keeps) without a user id, and the file row of the first.
        self.without_user = 0
        self.without_user_row: int | None = None
        self._read = 0   # file rows read so far
        self._clean: set[str] = set()   # touchpoint and segment names that need no look from DuckDB's reader
        user = csv.schema.field(self._columns["user_id"]).type
        schema = pa.schema([("u", user), ("t", pa.int64()), ("sc", pa.int32())])
        self.reader = pa.RecordBatchReader.from_batches(schema, self._blocks())

    @property
    def pairs(self) -> int:
        """(touchpoint, segment, converted) pairs numbered so far."""
        return len(self._pairs)

    def close(self) -> None:
        """Release the file (reading to the end does too)."""
        self._csv.close()

    def names(self) -> pd.DataFrame:
        """Touchpoint ``tp``, segment ``seg`` (``None`` without a segment column), converted ``conv``, events
        ``n``, value total ``val`` and ``bad`` (0) of each pair number, indexed by the number as text (like
        DuckDB's hashes)."""
        pairs = list(self._pairs)
        names = pd.DataFrame({"sc": [str(i) for i in range(len(pairs))], "tp": [a for a, _, _ in pairs],
                              "seg": [s for _, s, _ in pairs], "conv": [c for _, _, c in pairs], "n": self._visits,
                              "val": self._totals, "bad": 0}).set_index("sc")
        return names[names.n > 0]   # a block numbers every (touchpoint, segment, converted) it might meet

    def _blocks(self):
        try:
            for block in self._csv:
                yield self._block(block)
        except (_Unclean, pa.ArrowException, UnicodeDecodeError):
            self.unclean = True
            raise _Unclean("the file needs DuckDB's reader") from None
        finally:
            self._csv.close()

    def _block(self, block: pa.RecordBatch) -> pa.RecordBatch:
        columns, layout = self._columns, self._source.layout
        user, time, tp = (block.column(columns[c]) for c in ("user_id", "timestamp", "touchpoint"))
        if time.null_count:
            raise _Unclean
        blank = _blank(user)
        if self._source.plain:
            if tp.null_count:
                raise _Unclean
            tp_names = [trimmed(name) for name in tp.dictionary.to_pylist()]   # as DuckDB's trim()
            if not all(tp_names) or self._unclean(tp_names):
                raise _Unclean
            tp_idx, keep, flag = tp.indices.to_numpy(), None, 0
        else:
            tp_names, tp_idx, keep, flag = self._touchpoints(block, tp)
        if "segment" in columns:
            seg = block.column(columns["segment"])
            seg_names, seg_idx = [trimmed(name) for name in seg.dictionary.to_pylist()], seg.indices.to_numpy()
            if seg.null_count or "" in seg_names or self._unclean(seg_names):
                raise _Unclean
        else:
            seg_names, seg_idx = [None], 0
        pairs, flags = self._pairs, (False, True) if layout.conversion else (False,)
        lookup = np.array([-1 if a is None else pairs.setdefault((a, s, c), len(pairs)) for a in tp_names
                           for s in seg_names for c in flags], np.int32)
        pair = tp_idx * len(seg_names) + seg_idx
        code = lookup[pair * 2 + flag if layout.conversion else pair]
        value = None
        if "value" in columns:
            column = block.column(columns["value"])
            value = column.to_numpy(zero_copy_only=False)    # blank values (nulls) come out as NaN
            given = value if not column.null_count else value[column.is_valid().to_numpy(zero_copy_only=False)]
            if len(given) and not (given.min() >= 0 and given.max() < np.inf):   # NaN fails both
                raise _Unclean
        micros = self._micros(time)
        if blank is not None:
            self._count_without_user(blank if keep is None else blank & keep)
            keep = ~blank if keep is None else keep & ~blank
        self._read += len(block)
        if keep is not None:
            user, micros, code = user.filter(pa.array(keep)), micros.filter(pa.array(keep)), code[keep]
            value = None if value is None else value[keep]
        if len(self._visits) < len(pairs):
            self._totals = np.pad(self._totals, (0, len(pairs) - len(self._totals)))
            self._visits = np.pad(self._visits, (0, len(pairs) - len(self._visits)))
        self._visits += np.bincount(code, minlength=len(pairs))
        self.rows += len(code)
        if value is not None:
            some = value > 0
            self._totals += np.bincount(code[some], weights=value[some], minlength=len(self._totals))
        if self.time_ordered and len(micros):
            t = micros.to_numpy()
            self.time_ordered = (self._last is None or t[0] >= self._last) and bool((t[1:] >= t[:-1]).all())
            self._last = t[-1]
        return pa.RecordBatch.from_arrays([user, micros, pa.array(code)], names=["u", "t", "sc"])

    def _unclean(self, names: list[str]) -> bool:
        """Whether any of a block's ``names`` is one for DuckDB's reader (:func:`_unclean`). Names found clean are
        not looked at again: a name that opens with its own quote is searched for in the file once, not once a
        block."""
        fresh = [name for name in names if name not in self._clean]
        if any(_unclean(self._source.path, name) for name in fresh):
            return True
        self._clean.update(fresh)
        return False

    def _count_without_user(self, blank: np.ndarray) -> None:
        rows = np.flatnonzero(blank)
        if len(rows):
            if self.without_user_row is None:
                self.without_user_row = self._read + int(rows[0]) + 1
            self.without_user += len(rows)

    def _micros(self, time: pa.Array) -> pa.Array:
        """Each event's time in µs: a timestamp's, or an epoch number's scaled and rounded half up (as
        :meth:`~journeysim.logs.sources.Source.micros` does in DuckDB)."""
        unit = self._source.layout.unit_micros
        if unit is None:
            return time.cast(pa.int64())
        scaled = time.to_numpy(zero_copy_only=False) * unit
        if len(scaled) and not (np.abs(scaled).max() < 2.0 ** 63):   # NaN fails too
            raise _Unclean
        micros = np.floor(scaled + 0.5).astype(np.int64)
        if len(micros):
            low, high = int(micros.min()), int(micros.max())
            self.span = (low, high) if self.span is None else (min(self.span[0], low), max(self.span[1], high))
        return pa.array(micros)

    def _touchpoints(self, block: pa.RecordBatch, tp: pa.Array):
        """Touchpoint names, each row's index into them, the rows kept (``None``: all) and each row's flag
        (1: the row is also a conversion), by the layout's conversion column and touchpoint map."""
        layout = self._source.layout
        # An empty name is no touchpoint (None), and a row without one gets the index past the names.
        events = [trimmed(name) or None for name in tp.dictionary.to_pylist()]
        missing = np.array([name is None for name in events] + [True])
        codes = tp.indices.to_numpy(zero_copy_only=False)
        if tp.null_count:
            codes = np.where(tp.is_valid().to_numpy(zero_copy_only=False), codes, len(events))
        if layout.touchpoints is not None:
            names, idx = layout.touchpoints.apply(events + [None], codes, lambda c: block.column(c),
                                                  layout.keep_unmapped)
        else:
            names, idx = events, codes
        idx = np.where(missing[codes], -2, idx)
        if layout.conversion is not None:
            conv = block.column(layout.conversion)
            if not pa.types.is_dictionary(conv.type):
                conv = conv.dictionary_encode()
            flags = [layout.is_conversion(text) for text in conv.dictionary.to_pylist()]
            if None in flags:
                raise _Unclean
            flag = np.array(flags + [False])[conv.indices.to_numpy(zero_copy_only=False)]
            if conv.null_count:
                flag &= conv.is_valid().to_numpy(zero_copy_only=False)
        else:
            flag = np.zeros(len(idx), bool)
        if (idx == -2).any() and not flag[idx == -2].all():   # a row without a touchpoint, not a conversion
            raise _Unclean
        dropped = (idx == -1) & ~flag
        if dropped.any():
            for k, n in zip(*np.unique(codes[dropped], return_counts=True)):
                self.dropped[events[k]] = self.dropped.get(events[k], 0) + int(n)
        names = names or [None]
        alone = (idx < 0) & flag            # a conversion without a (kept) touchpoint: the goal alone
        if alone.any():
            names = [*names, self._goal]
            idx = np.where(alone, len(names) - 1, idx)
        keep = None if not dropped.any() else ~dropped
        return names, np.where(idx < 0, 0, idx), keep, (flag & ~alone).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _may_be_blank(offsets: np.ndarray, data: np.ndarray) -> bool:
    """Whether any text (bytes ``data[offsets[j]:offsets[j + 1]]``) is empty or starts with the first byte of a
    space DuckDB's ``trim`` takes off (U+0020; U+00A0; U+1680; U+2000-U+200A, U+202F, U+205F; U+3000)."""
    for j in range(len(offsets) - 1):
        a = offsets[j]
        if a == offsets[j + 1]:
            return True
        c = data[a]
        if c == 0x20 or c == 0xC2 or 0xE1 <= c <= 0xE3:
            return True
    return False


def _blank(user: pa.Array) -> np.ndarray | None:
    """Which events have no user id (null, empty, or only the spaces DuckDB's ``trim`` takes off), or ``None``
    when every one has one: the usual case, told by one pass over the ids' first bytes; the few texts that may
    be blank are then trimmed one by one."""
    n = len(user)
    if n == 0:
        return None
    if not user.null_count:
        wide = pa.types.is_large_string(user.type)
        _, offsets, data = user.buffers()
        offsets = np.frombuffer(offsets, np.int64 if wide else np.int32, n + 1, user.offset * (8 if wide else 4))
        if data is not None and not _may_be_blank(offsets, np.frombuffer(data, np.uint8)):
            return None
    blank = pc.equal(pc.binary_length(user), 0).fill_null(True).to_numpy(zero_copy_only=False)
    # Whitespace of any kind (tabs too) from end to end: only these few are trimmed here, as DuckDB would.
    spaced = np.flatnonzero(pc.utf8_is_space(user).fill_null(False).to_numpy(zero_copy_only=False))
    if len(spaced):
        blank[spaced] = [not trimmed(text) for text in user.take(pa.array(spaced)).to_pylist()]
    return blank if blank.any() else None


def standard_dialect(con: duckdb.DuckDBPyConnection, path: str) -> bool:
    """Whether DuckDB's sniffer sees the dialect pyarrow reads: commas, double quotes doubled to escape them
    (either may be absent from the sample), a header, no comments, no rows to skip."""
    rows = con.execute("SELECT Delimiter, Quote, Escape, HasHeader, SkipRows, Comment FROM sniff_csv($p, header = true)",
                       {"p": path}).fetchall()
    if not rows:
        return False
    delimiter, quote, escape, header, skip, comment = rows[0]
    none = ("", "(empty)")
    return (delimiter == "," and quote in ('"', *none) and escape in ('"', *none) and header and skip == 0
            and comment in none)


def csv_events(con: duckdb.DuckDBPyConnection, source: Source, *, goal: str | None = None,
               threads: int | None) -> CsvEvents | None:
    """Open a CSV event log for the fast read, or ``None`` if its dialect or first block needs DuckDB's reader.

    ``goal`` is the goal of a conversion-flag log; ``threads`` = 1 keeps the read on one core.
    """
    if not standard_dialect(con, source.path):
        return None
    layout = source.layout
    types = {layout.column(role): _TYPES[role] for role in ("user_id", "touchpoint", "segment", "value")
             if source.has(role)}
    extra = {**({layout.conversion: _DICT} if layout.conversion else {}),
             **{c: pa.string() for c in (layout.touchpoints.columns if layout.touchpoints else ())}}
    time = layout.column("timestamp")
    if len({time, *types, *extra}) < 1 + len(types) + len(extra):
        return None   # a column read in two roles: DuckDB's reader reads it as each needs
    types.update(extra)

    def open_csv(check_utf8: bool, time_type: pa.DataType) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(    # mapped, not read: the kernel does not copy the file into our buffers
            pa.memory_map(source.path), read_options=pacsv.ReadOptions(use_threads=threads != 1, block_size=_BLOCK),
            convert_options=pacsv.ConvertOptions(column_types={**types, time: time_type},
                                                 include_columns=[time, *types], null_values=[""],
                                                 check_utf8=check_utf8))

    try:
        if layout.unit_micros is not None:
            csv = open_csv(True, pa.float64())
        else:
            # The first block says whether times carry a UTC offset: then they are read as instants (UTC), as
            # DuckDB reads them; a file mixing the two forms fails the conversion and goes to DuckDB's reader.
            probe = open_csv(False, pa.string())
            first = probe.read_next_batch().column(time).drop_null()
            probe.close()
            zone = "UTC" if len(first) and _OFFSET.search(first[0].as_py()) else None
            # Text that is not UTF-8 stops the read (DuckDB's reader then names its row).
            csv = open_csv(True, pa.timestamp("us", tz=zone))
    except (pa.ArrowException, StopIteration):
        return None
    return CsvEvents(source, csv, goal)
