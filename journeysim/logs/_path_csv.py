"""Reading a clean CSV path file quickly: the path column dictionary-encoded while it is parsed.

A path file has millions of rows but usually some thousands of distinct paths. pyarrow's
reader gives each distinct text a number as it parses, so the counts of each text are a
``bincount``, and only the distinct texts are split into touchpoints (by pyarrow's string
kernels). Texts that differ only by spaces around the ``>`` become one path.

Only files that read cleanly are read here, without DuckDB: a plain comma-separated file
whose header names the path columns, with no quote or backslash inside a path, every count
a finite number >= 0, no empty path or touchpoint and no value on a path without
conversions. For anything else :func:`csv_path_table` returns ``None``, and DuckDB's reader,
which sniffs the dialect and names the bad row, reads the file instead.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from journeysim.logs._sql import SPACES

__all__ = ["csv_path_table"]

_DICT = pa.dictionary(pa.int32(), pa.string())
_COUNTS = ("total_conversions", "total_null")
_VALUE = "total_conversion_value"


class _Unclean(Exception):
    """DuckDB's reader must read the file (it names the bad row)."""


def csv_path_table(path: str | os.PathLike):
    """``(channels, offsets, touches, conversions, nulls, value)`` of the distinct paths of a CSV path file,
    in the order of their first row, or ``None`` if the file needs DuckDB's reader."""
    try:
        if Path(path).suffix.lower() == ".parquet" or not Path(path).is_file():
            return None
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        if not {"path", *_COUNTS} <= set(header) or len(set(header)) < len(header):
            return None
        numbers = [*_COUNTS, *([_VALUE] if _VALUE in header else [])]
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(
                column_types={"path": _DICT, **{c: pa.float64() for c in numbers}}, include_columns=["path", *numbers],
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))
        return _distinct(table.unify_dictionaries(), _VALUE in header)
    except (_Unclean, pa.ArrowInvalid, OSError, UnicodeDecodeError, csv.Error):
        return None


def _numbers(table: pa.Table, column: str, nulls_are_zero: bool = False) -> np.ndarray:
    values = table.column(column)
    if values.null_count and not nulls_are_zero:
        raise _Unclean
    out = values.fill_null(0.0).to_numpy() if values.null_count else values.to_numpy()
    if not (np.isfinite(out).all() and (out >= 0).all()):
        raise _Unclean
    return out


def _distinct(table: pa.Table, has_value: bool):
    path = table.column("path")
    if not table.num_rows or path.null_count:
        raise _Unclean
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in path.chunks])
    texts = path.chunks[0].dictionary
    if pc.any(pc.match_substring_regex(texts, r'["\\]')).as_py():
        raise _Unclean   # quoting or escapes the sniffer might read otherwise
    conversions, nulls = _numbers(table, "total_conversions"), _numbers(table, "total_null")
    value = _numbers(table, _VALUE, nulls_are_zero=True) if has_value else np.zeros(len(codes))
    if ((value > 0) & (conversions == 0)).any():
        raise _Unclean
    first = np.full(len(texts), len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    order = np.argsort(first, kind="stable")           # distinct texts in the order of their first row
    lists = pc.split_pattern(texts.take(pa.array(order)), ">")
    parts = pc.utf8_trim(lists.flatten(), SPACES)       # as DuckDB's trim(): the space separators
    if pc.any(pc.equal(pc.utf8_length(parts), 0)).as_py():
        raise _Unclean
    # texts naming the same touchpoints are one path, numbered in order of first appearance
    spelled = pc.binary_join(pa.ListArray.from_arrays(lists.offsets, parts), ">")
    merged = pc.dictionary_encode(spelled)
    ids = merged.indices.to_numpy()
    path_of_text = np.empty(len(order), np.int64)
    path_of_text[order] = ids
    path_of_row = path_of_text[codes]
    count = len(merged.dictionary)
    sums = [np.bincount(path_of_row, weights=x, minlength=count) for x in (conversions, nulls, value)]
    # the touches of each path, from its first spelling
    firsts = np.full(count, len(ids))
    np.minimum.at(firsts, ids, np.arange(len(ids)))
    starts, lengths = lists.offsets.to_numpy()[:-1][firsts], pc.list_value_length(lists).to_numpy()[firsts]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    at = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    channel = pc.dictionary_encode(parts)
    names = channel.dictionary.to_pylist()
    rank = np.empty(len(names), np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    touches = rank[channel.indices.to_numpy()[at]]
    return (tuple(sorted(names)), offsets.astype(np.int64), touches, *sums)
