"""Per-customer A/B result CSVs read by columns (pyarrow) when they read cleanly.

Text is never turned into Python objects row by row: user ids are hashed to codes in
pyarrow, and the variant and converted columns are dictionary-encoded while parsed, so only
their few distinct spellings are trimmed, lower-cased and looked up in Python. Anything the
exact reader would report (a ragged row, an empty value, a number that does not parse or is
not finite, a boolean it does not know) makes :func:`read_columns` return ``None``, and the
caller reads the file with the exact reader, which names the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["MAX_AMOUNT", "Rows", "read_columns", "simple_lines"]

_DICT = pa.dictionary(pa.int32(), pa.string())
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
# What Python's str.strip() removes (str.isspace), as the exact reader trims, in RE2's syntax (pyarrow's regex
# engine): a user id starting or ending with one of these is trimmed before customers are told apart.
_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_PADDED = f"^{_SPACE}|{_SPACE}$"
#: The largest amount a customer's revenue or covariate may be: variances square the amounts and sum them over
#: up to 2**53 customers, and 1e200 made them overflow (NaN tests and intervals, with RuntimeWarnings).
MAX_AMOUNT = 1e100


@dataclass(frozen=True)
class Rows:
    """A per-customer file as codes: ``user`` indexes ``users`` and ``variant`` indexes ``variants``,
    both numbered in order of first appearance."""

    user: np.ndarray
    users: pa.Array
    variant: np.ndarray
    variants: list[str]
    converted: np.ndarray
    revenue: np.ndarray | None
    covariate: np.ndarray | None


class _Unclean(Exception):
    """The exact reader must read the file (it will name the bad line)."""


def read_columns(path, delimiter: str, user: str, variant: str, converted: str, revenue: str | None,
                 covariate: str | None) -> Rows | None:
    """Read the named columns (their names as written in the header), or ``None`` if the file needs the exact reader."""
    numbers = [c for c in (revenue, covariate) if c is not None]
    types = {user: pa.string(), variant: _DICT, converted: _DICT, **{c: pa.float64() for c in numbers}}
    try:
        table = pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types), null_values=[""],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        if not table.num_rows:
            raise _Unclean
        user_codes, users = _users(table.column(user))
        variant_codes, variants = _variants(table.column(variant))
        return Rows(user_codes, users, variant_codes, variants, _booleans(table.column(converted)),
                    _finite(table.column(revenue)) if revenue else None,
                    _finite(table.column(covariate)) if covariate else None)
    except (_Unclean, pa.ArrowInvalid):
        return None


def _indices(column: pa.ChunkedArray) -> np.ndarray:
    return np.concatenate([chunk.indices.to_numpy() for chunk in column.chunks])


def _users(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    encoded = pc.dictionary_encode(column)
    names = encoded.chunks[0].dictionary
    # pyarrow gives every chunk the one dictionary it grew while encoding; were it not so, unify them
    if all(chunk.dictionary.equals(names) for chunk in encoded.chunks[1:]):
        codes = _indices(encoded)
    else:
        combined = encoded.combine_chunks()
        codes, names = combined.indices.to_numpy(), combined.dictionary
    padded = pc.match_substring_regex(names, _PADDED)
    if pc.any(padded).as_py():
        # few ids are padded: trim those in Python and merge the ids that become equal
        where = np.flatnonzero(padded.to_numpy(zero_copy_only=False))
        text = names.to_pylist()
        for i in where:
            text[i] = text[i].strip()
        merged = pc.dictionary_encode(pa.array(text, pa.string()))
        codes, names = merged.indices.to_numpy()[codes], merged.dictionary
    if pc.any(pc.equal(pc.utf8_length(names), 0)).as_py():
        raise _Unclean
    return codes, names


def _variants(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    names: dict[str, int] = {}
    codes = []
    for chunk in column.chunks:
        lookup = np.array([names.setdefault(name.strip(), len(names)) for name in chunk.dictionary.to_pylist()],
                          np.int32)
        codes.append(lookup[chunk.indices.to_numpy()] if len(lookup) else np.zeros(len(chunk), np.int32))
    if "" in names:
        raise _Unclean
    codes = np.concatenate(codes)
    spelled = list(names)
    # number the variants in order of first appearance in the file
    if len(spelled) <= 32:
        first = np.array([np.argmax(codes == c) for c in range(len(spelled))])
    else:
        _, first = np.unique(codes, return_index=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty(len(order), np.int32)
    renumber[order] = np.arange(len(order), dtype=np.int32)
    return renumber[codes], [spelled[i] for i in order]


def _booleans(column: pa.ChunkedArray) -> np.ndarray:
    out = []
    for chunk in column.chunks:
        spelled = [name.strip().lower() for name in chunk.dictionary.to_pylist()]
        if any(s not in _TRUE and s not in _FALSE for s in spelled):
            raise _Unclean
        out.append(np.array([s in _TRUE for s in spelled], bool)[chunk.indices.to_numpy()])
    return np.concatenate(out)


def _finite(column: pa.ChunkedArray) -> np.ndarray:
    if column.null_count:
        raise _Unclean
    values = column.to_numpy()
    if not (np.abs(values) <= MAX_AMOUNT).all():     # nan and inf too: the exact reader names the line
        raise _Unclean
    return values


def simple_lines(path, rows: int, block: int = 1 << 24) -> bool:
    """Whether data row ``i`` of the file is on line ``i + 2``: one line per row (no blank line, no line break
    inside a quoted value) and every line ending in ``\\n`` or ``\\r\\n``, as the exact reader counts them."""
    newlines = returns = crlf = 0
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(block):
            text = tail + chunk
            newlines += chunk.count(b"\n")
            returns += chunk.count(b"\r")
            crlf += text.count(b"\r\n") - tail.count(b"\r\n")
            tail = chunk[-1:]
        last = tail
    lines = newlines + (last not in (b"", b"\n"))
    return returns == crlf and lines == rows + 1

