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
that is not UTF-8, an empty user, time or touchpoint, an empty segment, or a value that
is negative or not a finite number mark the stream :attr:`CsvEvents.unclean` (and end it
with an error), and DuckDB's reader, which reports the exact bad row, reads the file
instead.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from journeysim.logs.sources import Source

__all__ = ["CsvEvents", "csv_events", "standard_dialect"]

_BLOCK = 1 << 21    # bytes per block: small enough to stay in cache, big enough that per-block Python is noise
_DICT = pa.dictionary(pa.int32(), pa.string())
# User ids are labels, read as text: 007 is not 7 (and 64-bit hash ids would overflow an integer).
_TYPES = {"user_id": pa.string(), "touchpoint": _DICT, "segment": _DICT, "value": pa.float64()}
# A UTC offset after a time of day: Z, +02:00, -0130, +02.
_OFFSET = re.compile(r"\d:\d\d(:\d\d(\.\d*)?)?\s*(Z|[+-]\d\d(:?\d\d)?)\s*$")


class _Unclean(Exception):
    """The file needs DuckDB's reader (a bad row to report)."""


class CsvEvents:
    """A CSV event log as a stream of ``u``, ``t`` (µs) and ``sc`` (pair number), in file order.

    ``reader`` is read once; afterwards :meth:`names` tells what the numbers stand for and
    ``time_ordered`` whether the file is in time order, unless ``unclean`` is set (the
    stream stopped at a row that needs DuckDB's reader).
    """

    def __init__(self, source: Source, csv: pacsv.CSVStreamingReader):
        self._source, self._csv = source, csv
        self._pairs: dict[tuple[str, str | None], int] = {}
        self._totals = np.zeros(0)
        self._visits = np.zeros(0, np.int64)
        self.rows = 0
        self.unclean = False
        #: Every event's time is at or after the one before it in the file (exports often are).
        self.time_ordered = True
        self._last = None
        user = csv.schema.field("user_id").type
        schema = pa.schema([("u", user), ("t", pa.int64()), ("sc", pa.int32())])
        self.reader = pa.RecordBatchReader.from_batches(schema, self._blocks())

    @property
    def pairs(self) -> int:
        """(touchpoint, segment) pairs numbered so far."""
        return len(self._pairs)

    def close(self) -> None:
        """Release the file (reading to the end does too)."""
        self._csv.close()

    def names(self) -> pd.DataFrame:
        """Touchpoint ``tp``, segment ``seg`` (``None`` without a segment column), events ``n``, value total
        ``val`` and ``bad`` (0) of each pair number, indexed by the number as text (like DuckDB's hashes)."""
        return pd.DataFrame({"sc": [str(i) for i in range(len(self._pairs))], "tp": [a for a, _ in self._pairs],
                             "seg": [s for _, s in self._pairs], "n": self._visits, "val": self._totals,
                             "bad": 0}).set_index("sc")

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
        user, time, tp = block.column("user_id"), block.column("timestamp"), block.column("touchpoint")
        if user.null_count or time.null_count or tp.null_count:
            raise _Unclean
        tp_names = [name.strip(" ") for name in tp.dictionary.to_pylist()]   # as DuckDB's trim()
        if not all(tp_names):
            raise _Unclean
        if self._source.has("segment"):
            seg = block.column("segment")
            seg_names, seg_idx = [name.strip(" ") for name in seg.dictionary.to_pylist()], seg.indices.to_numpy()
            if seg.null_count or "" in seg_names:
                raise _Unclean
        else:
            seg_names, seg_idx = [None], 0
        pairs = self._pairs
        lookup = np.array([pairs.setdefault((a, s), len(pairs)) for a in tp_names for s in seg_names], np.int32)
        code = lookup[tp.indices.to_numpy() * len(seg_names) + seg_idx]
        if len(self._visits) < len(pairs):
            self._totals = np.pad(self._totals, (0, len(pairs) - len(self._totals)))
            self._visits = np.pad(self._visits, (0, len(pairs) - len(self._visits)))
        self._visits += np.bincount(code, minlength=len(pairs))
        self.rows += len(code)
        if self._source.has("value"):
            column = block.column("value")
            value = column.to_numpy(zero_copy_only=False)    # blank values (nulls) come out as NaN
            given = value if not column.null_count else value[column.is_valid().to_numpy(zero_copy_only=False)]
            if len(given) and not (given.min() >= 0 and given.max() < np.inf):   # NaN fails both
                raise _Unclean
            some = value > 0
            self._totals += np.bincount(code[some], weights=value[some], minlength=len(self._totals))
        micros = time.cast(pa.int64())
        if self.time_ordered and len(micros):
            t = micros.to_numpy()
            self.time_ordered = (self._last is None or t[0] >= self._last) and bool((t[1:] >= t[:-1]).all())
            self._last = t[-1]
        return pa.RecordBatch.from_arrays([user, micros, pa.array(code)], names=["u", "t", "sc"])


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


def csv_events(con: duckdb.DuckDBPyConnection, source: Source, *, threads: int | None) -> CsvEvents | None:
    """Open a CSV event log for the fast read, or ``None`` if its dialect or first block needs DuckDB's reader.

    ``threads`` = 1 keeps the read on one core.
    """
    if not standard_dialect(con, source.path):
        return None
    columns = [c for c in ("user_id", "timestamp", "touchpoint", "segment", "value") if source.has(c)]

    def open_csv(check_utf8: bool, time: pa.DataType) -> pacsv.CSVStreamingReader:
        types = {**{c: _TYPES[c] for c in columns if c in _TYPES}, "timestamp": time}
        return pacsv.open_csv(    # mapped, not read: the kernel does not copy the file into our buffers
            pa.memory_map(source.path), read_options=pacsv.ReadOptions(use_threads=threads != 1, block_size=_BLOCK),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=columns, null_values=[""],
                                                 check_utf8=check_utf8))

    try:
        # The first block says whether times carry a UTC offset: then they are read as instants (UTC), as DuckDB
        # reads them; a file mixing the two forms fails the conversion and goes to DuckDB's reader.
        probe = open_csv(False, pa.string())
        first = probe.read_next_batch().column("timestamp").drop_null()
        probe.close()
        zone = "UTC" if len(first) and _OFFSET.search(first[0].as_py()) else None
        # Text that is not UTF-8 stops the read (DuckDB's reader then names its row).
        csv = open_csv(True, pa.timestamp("us", tz=zone))
    except (pa.ArrowException, StopIteration):
        return None
    return CsvEvents(source, csv)
