"""Reading A/B test results: per-customer or aggregated rows, CSV or Parquet.

Real exports rarely use our column names or encodings, so every column can be
renamed and booleans may be written 0/1, true/false (any case) or yes/no. An
aggregated file with several rows per arm (one per day, or per segment) is
summed per arm, and the rows summed are counted; ``by`` keeps the sums of each
group of a column apart as well (strata, for a stratified analysis). Every
problem names the file, the line (CSV, header = line 1) or row (Parquet) and
the column.

A per-customer CSV is read by columns (pyarrow) and its customer rules applied
to whole arrays; a file that does not read cleanly that way is read again by
the exact reader (the ``csv`` module, row by row), which names the bad line.
"""

from __future__ import annotations

import csv
import math
import os
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from journeysim.errors import DataError, did_you_mean, excerpt
from journeysim.experiments._customers import CustomerTable, first_rows, reduce_customers
from journeysim.experiments._results_csv import MAX_AMOUNT, read_columns, simple_lines

__all__ = ["Arm", "ExcludedRow", "ExperimentData", "read_results", "results_from_frame"]

#: The largest count read exactly from a file (an aggregated row's customers or conversions, and their sums).
MAX_COUNT = 2**53
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})
_AGGREGATED = ("customers", "conversions")


@dataclass(frozen=True)
class Arm:
    """One variant's data: counts, and per-customer revenue or its aggregated sums when present."""

    name: str
    customers: int
    conversions: int
    revenue: np.ndarray | None = None
    covariate: np.ndarray | None = None
    revenue_sum: float | None = None
    revenue_sumsq: float | None = None

    @property
    def has_revenue(self) -> bool:
        return self.revenue is not None or self.revenue_sum is not None


@dataclass(frozen=True)
class ExcludedRow:
    """A row dropped because its customer appears in several variants: where it is (``line N`` of a CSV,
    ``row N`` of a table), the customer and the variant it names."""

    where: str
    user: str
    variant: str

    def __str__(self) -> str:
        return f"{self.where} ({excerpt(self.user)} in {excerpt(self.variant)})"


@dataclass(frozen=True)
class ExperimentData:
    """An A/B test result: the arms in the order they first appear in the file.

    ``rows`` counts the aggregated rows summed into each arm (empty for per-customer
    files); with ``by``, ``strata`` holds each group's arms (groups in the order they
    first appear), whose sums are ``arms``.
    ``excluded_rows`` holds the first few rows dropped with customers seen in several variants
    (``excluded_customers`` counts those customers).
    """

    source: str
    kind: str
    arms: Mapping[str, Arm]
    excluded_customers: int = 0
    duplicate_customers: int = 0
    covariate: str | None = None
    rows: Mapping[str, int] = field(default_factory=dict)
    by: str | None = None
    strata: Mapping[str, Mapping[str, Arm]] = field(default_factory=dict)
    excluded_rows: tuple[ExcludedRow, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "arms", MappingProxyType(dict(self.arms)))
        object.__setattr__(self, "rows", MappingProxyType(dict(self.rows)))
        object.__setattr__(self, "strata", MappingProxyType({g: MappingProxyType(dict(a))
                                                             for g, a in self.strata.items()}))


def read_results(path: str | os.PathLike, *, user_column: str = "user_id", variant_column: str = "variant",
                 converted_column: str = "converted", revenue_column: str = "revenue",
                 covariate_column: str | None = None, customers_column: str | None = None,
                 conversions_column: str | None = None, revenue_sum_column: str | None = None,
                 revenue_sumsq_column: str | None = None, by: str | None = None) -> ExperimentData:
    """Read an A/B result file (``.parquet`` by its suffix, CSV otherwise).

    Aggregated files have ``variant, customers, conversions`` and optionally
    ``revenue_sum, revenue_sumsq`` (a file is aggregated when it has the customers and
    conversions columns, or when one of their ``*_column`` names is given); several rows
    of one variant (a date or segment column tells them apart) are summed. Per-customer
    files have ``user_id, variant, converted`` and optionally ``revenue`` and a
    pre-period covariate (the first column whose name starts with ``pre_`` unless
    ``covariate_column`` names one). ``by`` names a column whose groups are kept apart
    too (:attr:`ExperimentData.strata`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ab.csv"
    >>> _ = f.write_text("variant,customers,conversions\\ncontrol,1000,50\\nB,1000,61\\n")
    >>> data = read_results(f)
    >>> data.kind, [(a.name, a.customers, a.conversions) for a in data.arms.values()]
    ('aggregated', [('control', 1000, 50), ('B', 1000, 61)])
    >>> _ = f.write_text("day,Group,Users,Orders\\nMon,A,500,20\\nMon,B,490,30\\nTue,A,510,25\\nTue,B,505,31\\n")
    >>> data = read_results(f, variant_column="Group", customers_column="Users", conversions_column="Orders")
    >>> [(a.name, a.customers, a.conversions) for a in data.arms.values()], dict(data.rows)
    ([('A', 1010, 45), ('B', 995, 61)], {'A': 2, 'B': 2})
    """
    source = str(path)
    if Path(path).is_dir():
        raise DataError(f"{source}: is a folder, not a results file")
    if not Path(path).is_file():
        raise DataError(f"{source}: no such file")
    names = dict(user_column=user_column, variant_column=variant_column, converted_column=converted_column,
                 revenue_column=revenue_column, covariate_column=covariate_column)
    aggregated = _aggregated_names(customers_column, conversions_column, revenue_sum_column, revenue_sumsq_column)
    options = {**names, **{f"{k}_column": v for k, v in aggregated.items()}, "by": by}
    if Path(path).suffix.lower() == ".parquet":
        return results_from_frame(_checked(_read_parquet(path, source), source), source, parquet=True, **options)
    delimiter, header = _csv_header(path, source)
    stripped = {c.strip() for c in header}
    # The column-wise reader handles the common case: a per-customer file with its columns present, no strata.
    if (by is None and not any(aggregated.values()) and not all(c in stripped for c in _AGGREGATED)
            and {user_column, variant_column, converted_column} <= stripped):
        data = _per_customer_csv(path, source, delimiter, header, **names)
        if data is not None:
            return data
    frame, lines = _read_csv(path, source, delimiter)
    return _from_frame(_Columns(_checked(frame, source), source, lines=lines), **options)


def _read_parquet(path, source: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{source}: cannot read Parquet ({str(exc).splitlines()[0]})") from None
    return frame


def _checked(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    frame.columns = [str(c).strip() for c in frame.columns]
    _unique_header(frame.columns, source)
    if frame.empty:
        raise DataError(f"{source}: no data rows (only a header)")
    return frame


def _unique_header(columns, source: str) -> None:
    seen = set()
    for col in columns:
        if col in seen:
            raise DataError(f"{source}: column '{col}' appears more than once in the header")
        seen.add(col)


def _delimiter(fh) -> str:
    """``,`` unless the header has none and uses ``;`` or a tab (European spreadsheet exports)."""
    first = fh.readline()
    fh.seek(0)
    if "," in first:
        return ","
    return max(";\t", key=first.count) if any(c in first for c in ";\t") else ","


def _open_text(path):
    # utf-8-sig: spreadsheet exports often start with a byte-order mark
    return open(path, encoding="utf-8-sig", newline="")


def _csv_header(path, source: str) -> tuple[str, list[str]]:
    """The delimiter and the header's column names as written."""
    try:
        with _open_text(path) as fh:
            delimiter = _delimiter(fh)
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{source}: not a valid CSV file ({exc})") from None
    if header is None:
        raise DataError(f"{source}: empty file (expected a header row and data rows)")
    _unique_header([c.strip() for c in header], source)
    return delimiter, header


def _read_csv(path, source: str, delimiter: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The exact reader: every value as text, and each row's line (``None``: row ``i`` is on line ``i + 2``)."""
    # the csv module rather than pandas: a row with too many fields must be an error naming its line,
    # where pandas would silently turn the extra leading fields into an index
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{source}: empty file (expected a header row and data rows)")
            rows, lines = [], array("q")
            for row in reader:
                if not row:
                    continue  # blank line
                if len(row) != len(header):
                    raise DataError(f"{source}: line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{source}: not a valid CSV file ({exc})") from None
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    lines = np.frombuffer(lines, np.int64) if len(lines) else np.zeros(0, np.int64)
    return frame, None if np.array_equal(lines, np.arange(2, len(lines) + 2)) else lines


def _csv_lines(path, delimiter: str, rows: np.ndarray, total: int) -> np.ndarray:
    """The lines of data rows ``rows`` (sorted) of a file of ``total`` rows."""
    if not len(rows):
        return np.zeros(0, np.int64)
    if simple_lines(path, total):
        return rows + 2
    # not one line per row: read as far as the last row wanted, counting lines as the exact reader does
    out, wanted = [], iter(rows.tolist())
    target = next(wanted)
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader)
        i = 0
        for row in reader:
            if not row:
                continue
            if i == target:
                out.append(reader.line_num)
                target = next(wanted, None)
                if target is None:
                    break
            i += 1
    return np.array(out, np.int64)


def _per_customer_csv(path, source: str, delimiter: str, header: list[str], *, user_column: str,
                      variant_column: str, converted_column: str, revenue_column: str,
                      covariate_column: str | None) -> ExperimentData | None:
    """A per-customer CSV read by columns, or ``None`` if it needs the exact reader (which names the bad line)."""
    written = {c.strip(): c for c in header}
    columns = list(written)
    _require(columns, user_column, source, "--user-column")
    _require(columns, variant_column, source, "--variant-column")
    _require(columns, converted_column, source, "--converted-column")
    covariate_column = _covariate(columns, covariate_column, source)
    revenue = revenue_column if revenue_column in written else None
    rows = read_columns(path, delimiter, written[user_column], written[variant_column], written[converted_column],
                        written.get(revenue), written.get(covariate_column))
    if rows is None:
        return None
    table = reduce_customers(rows.user, len(rows.users), rows.variant, len(rows.variants), rows.converted,
                             rows.revenue, rows.covariate)
    lines = _csv_lines(path, delimiter, table.excluded_rows, len(rows.user))
    examples = tuple(ExcludedRow(f"line {line}", rows.users[int(rows.user[i])].as_py(),
                                 rows.variants[int(rows.variant[i])])
                     for i, line in zip(table.excluded_rows, lines))
    return _experiment(source, table, rows.variants, variant_column, examples,
                       covariate_column if rows.covariate is not None else None)


def results_from_frame(frame: pd.DataFrame, source: str, *, parquet: bool = False, user_column: str = "user_id",
                       variant_column: str = "variant", converted_column: str = "converted",
                       revenue_column: str = "revenue", covariate_column: str | None = None,
                       customers_column: str | None = None, conversions_column: str | None = None,
                       revenue_sum_column: str | None = None, revenue_sumsq_column: str | None = None,
                       by: str | None = None) -> ExperimentData:
    """Validate and reduce a table of results (see :func:`read_results`).

    Rows are named ``row N`` (counting from 1) with ``parquet=True``, ``line N + 1`` otherwise.
    """
    return _from_frame(_Columns(frame, source, parquet=parquet), user_column=user_column,
                       variant_column=variant_column, converted_column=converted_column, revenue_column=revenue_column,
                       covariate_column=covariate_column, customers_column=customers_column,
                       conversions_column=conversions_column, revenue_sum_column=revenue_sum_column,
                       revenue_sumsq_column=revenue_sumsq_column, by=by)


def _aggregated_names(customers_column=None, conversions_column=None, revenue_sum_column=None,
                      revenue_sumsq_column=None) -> dict[str, str | None]:
    return {"customers": customers_column, "conversions": conversions_column, "revenue_sum": revenue_sum_column,
            "revenue_sumsq": revenue_sumsq_column}


def _from_frame(cols: "_Columns", *, user_column: str, variant_column: str, converted_column: str,
                revenue_column: str, covariate_column: str | None, by: str | None = None,
                **aggregated_columns: str | None) -> ExperimentData:
    named = _aggregated_names(**aggregated_columns)
    aggregated = {k: v or k for k, v in named.items()}
    if by is not None:
        cols.require(by, also=", which --by names")
    if any(v is not None for v in named.values()) or all(aggregated[c] in cols.frame.columns for c in _AGGREGATED):
        return _aggregated(cols, variant_column, aggregated, by)
    return _per_customer(cols, user_column, variant_column, converted_column, revenue_column, covariate_column, by)

def _require(columns, column: str, source: str, option: str | None = None) -> None:
    if column not in columns:
        hint = f"; name yours with {option}" if option else ""
        raise DataError(f"{source}: missing column '{column}'{did_you_mean(column, columns)}"
                        f" (columns: {', '.join(map(str, columns))}){hint}")


def _covariate(columns, covariate_column: str | None, source: str) -> str | None:
    """The named covariate column (which must exist), else the first column named ``pre_*``."""
    if covariate_column is not None:
        _require(columns, covariate_column, source)
        return covariate_column
    return next((c for c in columns if str(c).startswith("pre_")), None)


class _Columns:
    """Column access that names the file, the row and the column in every error."""

    def __init__(self, frame: pd.DataFrame, source: str, *, parquet: bool = False, lines: np.ndarray | None = None):
        self.lines = lines
        self.frame, self.source, self.parquet = frame.reset_index(drop=True), source, parquet

    def where(self, i: int) -> str:
        if self.parquet:
            return f"row {i + 1}"
        return f"line {self.lines[i] if self.lines is not None else i + 2}"

    def fail(self, i: int, column: str, message: str):
        raise DataError(f"{self.source}: {self.where(int(i))}, column '{column}': {message}")

    def require(self, column: str, option: str | None = None, also: str = "") -> None:
        if column not in self.frame.columns:
            hint = f"; name yours with {option}" if option else ""
            cols = ", ".join(map(str, self.frame.columns))
            raise DataError(f"{self.source}: missing column '{column}'{did_you_mean(column, self.frame.columns)}"
                            f" (columns: {cols}){hint}{also}")

    def text(self, column: str) -> pd.Series:
        col = self.frame[column]
        values = col.astype(str).str.strip()
        bad = col.isna() | (values == "")
        if bad.any():
            self.fail(np.flatnonzero(bad.to_numpy())[0], column, "empty value")
        return values

    def number(self, column: str) -> np.ndarray:
        col = self.frame[column]
        if pd.api.types.is_bool_dtype(col):
            self.fail(0, column, f"{excerpt(col.iloc[0])} is not a number")
        values = pd.to_numeric(col.astype(str).str.strip() if col.dtype == object else col, errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raw = col.iloc[i]
            self.fail(i, column, "empty value" if str(raw).strip() in ("", "nan", "None") else f"{excerpt(raw)} is not a number")
        return values.to_numpy(dtype=float)

    def amount(self, column: str) -> np.ndarray:
        values = self.number(column)
        big = np.abs(values) > MAX_AMOUNT
        if big.any():
            i = np.flatnonzero(big)[0]
            self.fail(i, column, f"{excerpt(self.frame[column].iloc[i])} is beyond +/-{MAX_AMOUNT:g} (variances "
                                 "square the amounts, and overflow past that)")
        return values

    def count(self, column: str) -> np.ndarray:
        values = self.number(column)
        bad = (values < 0) | (values != np.round(values))
        if bad.any():
            i = np.flatnonzero(bad)[0]
            self.fail(i, column, f"{values[i]:g} is not a whole number >= 0")
        # Past 2**53 a count read as a number is no longer exact, and int64 would wrap to negative.
        big = values > MAX_COUNT
        if big.any():
            i = np.flatnonzero(big)[0]
            self.fail(i, column, f"{excerpt(self.frame[column].iloc[i])} is more than {MAX_COUNT:,} (2**53), the "
                                 "largest count read exactly")
        return values.astype(np.int64)

    def boolean(self, column: str) -> np.ndarray:
        col = self.frame[column]
        if pd.api.types.is_bool_dtype(col):
            return col.to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(dtype=float)
            bad = ~np.isin(values, (0.0, 1.0))
            if bad.any():
                self.fail(np.flatnonzero(bad)[0], column, f"{excerpt(col.iloc[np.flatnonzero(bad)[0]])} is not a boolean (0/1)")
            return values == 1.0
        values = col.astype(str).str.strip().str.lower()
        true, false = values.isin(_TRUE), values.isin(_FALSE)
        bad = ~(true | false)
        if bad.any():
            i = np.flatnonzero(bad.to_numpy())[0]
            self.fail(i, column, f"{excerpt(col.iloc[i])} is not a boolean (0/1, true/false or yes/no)")
        return true.to_numpy()


def _aggregated(cols: _Columns, variant_column: str, names: dict[str, str], by: str | None) -> ExperimentData:
    """Arms from aggregated rows: each variant's rows summed (told apart by the other columns), per group of
    ``by`` too."""
    cols.require(variant_column, "--variant-column")
    cols.require(names["customers"], "--customers-column")
    cols.require(names["conversions"], "--conversions-column")
    variants = cols.text(variant_column)
    customers, conversions = cols.count(names["customers"]), cols.count(names["conversions"])
    for i in np.flatnonzero(conversions > customers):
        cols.fail(i, names["conversions"], f"{conversions[i]} conversions exceed {customers[i]} customers")
    present = [c for c in ("revenue_sum", "revenue_sumsq") if names[c] in cols.frame.columns]
    if len(present) == 1:
        other = ({"revenue_sum", "revenue_sumsq"} - set(present)).pop()
        option = f" (--{other.replace('_', '-')}-column)"
        raise DataError(f"{cols.source}: column '{names[present[0]]}' needs column '{names[other]}' too{option}")
    sums = sumsq = None
    if present:
        sums, sumsq = cols.number(names["revenue_sum"]), cols.number(names["revenue_sumsq"])
        for i in range(len(variants)):
            if not customers[i] and (sums[i] or sumsq[i]):
                cols.fail(i, names["revenue_sum"], "revenue on a row without customers")
            # sum of squares below sum^2/n would be a negative variance (compared by square roots: no overflow)
            if customers[i] and math.sqrt(sumsq[i]) * math.sqrt(customers[i]) < abs(sums[i]) * (1 - 1e-9):
                cols.fail(i, names["revenue_sumsq"], f"{sumsq[i]:g} is less than revenue_sum^2/customers (impossible)")
    counted = {variant_column, *names.values()}
    _distinct_rows(cols, variants, variant_column, [c for c in cols.frame.columns if c not in counted])
    groups = cols.text(by) if by is not None else None
    table = pd.DataFrame({"variant": variants, "group": groups if groups is not None else "", "customers": customers,
                          "conversions": conversions, "sum": sums if sums is not None else 0.0,
                          "sumsq": sumsq if sumsq is not None else 0.0})

    def arms(part: pd.DataFrame) -> dict[str, Arm]:
        totals = part.groupby("variant", sort=False)[["customers", "conversions", "sum", "sumsq"]].sum()
        return {name: Arm(name, int(t.customers), int(t.conversions),
                          revenue_sum=None if sums is None else float(t["sum"]),
                          revenue_sumsq=None if sumsq is None else float(t.sumsq))
                for name, t in totals.iterrows()}

    for name, part in table.groupby("variant", sort=False):
        row = int(part.index[0])
        if math.fsum(part.customers.astype(float)) > MAX_COUNT:
            cols.fail(row, names["customers"], f"variant {excerpt(name)}: its rows add up to more than "
                                               f"{MAX_COUNT:,} (2**53) customers, more than a count holds exactly")
        if sums is not None and not (math.isfinite(math.fsum(part["sum"])) and math.isfinite(math.fsum(part.sumsq))):
            cols.fail(row, names["revenue_sumsq"], f"variant {excerpt(name)}'s revenue totals over its rows are "
                                                   "beyond the range of a number (1.8e308)")
    pooled = arms(table)
    for name, arm in pooled.items():
        if arm.customers == 0:
            cols.fail(np.flatnonzero((variants == name).to_numpy())[0], names["customers"],
                      f"variant {excerpt(name)} has zero customers")
    if len(pooled) < 2:
        raise DataError(f"{cols.source}: only one variant ({excerpt(variants.iloc[0])}); an A/B test needs at least two")
    strata = {g: arms(part) for g, part in table.groupby("group", sort=False)} if by is not None else {}
    return ExperimentData(cols.source, "aggregated", pooled, rows=variants.value_counts(sort=False).to_dict(), by=by,
                          strata=strata)


def _distinct_rows(cols: _Columns, variants: pd.Series, variant_column: str, others: list[str]) -> None:
    """Refuse two rows of one variant that no other column (a date, a segment) tells apart: a row counted twice."""
    keys = pd.concat([variants, *(cols.frame[c].astype(str).str.strip() for c in others)], axis=1)
    repeated = keys.duplicated()
    if not repeated.any():
        return
    i = int(np.flatnonzero(repeated.to_numpy())[0])
    name = variants.iloc[i]
    if not others:
        cols.fail(i, variant_column, f"variant {excerpt(name)} appears on more than one row, and no other column (a date "
                                     "or a segment) tells its rows apart")
    first = int(np.flatnonzero((keys == keys.iloc[i]).all(axis=1).to_numpy())[0])
    same = ", ".join(f"{c} {excerpt(keys.iloc[i, k + 1])}" for k, c in enumerate(others))
    cols.fail(i, variant_column, f"variant {excerpt(name)} with {same} appears on more than one row (also "
                                 f"{cols.where(first)}): a row counted twice")


def _per_customer(cols: _Columns, user_column: str, variant_column: str, converted_column: str,
                  revenue_column: str, covariate_column: str | None, by: str | None) -> ExperimentData:
    aggregated = ("; an aggregated file (one row per variant, or per variant and day) needs variant, customers and "
                  "conversions columns: name yours with --variant-column, --customers-column and --conversions-column")
    cols.require(user_column, "--user-column", aggregated)
    cols.require(variant_column, "--variant-column")
    cols.require(converted_column, "--converted-column")
    covariate_column = _covariate(cols.frame.columns, covariate_column, cols.source)
    users, user_names = pd.factorize(cols.text(user_column).to_numpy())
    variants, variant_names = pd.factorize(cols.text(variant_column).to_numpy())
    converted = cols.boolean(converted_column)
    revenue = cols.amount(revenue_column) if revenue_column in cols.frame.columns else None
    covariate = cols.amount(covariate_column) if covariate_column is not None else None
    table = reduce_customers(users, len(user_names), variants, len(variant_names), converted, revenue, covariate)
    examples = tuple(ExcludedRow(cols.where(i), str(user_names[users[i]]), str(variant_names[variants[i]]))
                     for i in table.excluded_rows)
    home = None
    if by is not None:
        groups, group_names = pd.factorize(cols.text(by).to_numpy())
        home = groups[first_rows(users)]            # each customer's group: that of their first row
        moved = np.flatnonzero(groups != home[users])
        if len(moved):                                # a customer is in one stratum
            i = int(moved[0])
            first = int(first_rows(users)[users[i]])
            cols.fail(i, by, f"customer {excerpt(user_names[users[i]])} is in group {excerpt(group_names[groups[i]])} "
                             f"here and in {excerpt(group_names[home[users[i]]])} on {cols.where(first)} "
                             "(a customer is in one group)")
        home = (home, [str(g) for g in group_names])
    return _experiment(cols.source, table, [str(v) for v in variant_names], variant_column, examples,
                       covariate_column if covariate is not None else None, by=by, home=home)


def _experiment(source: str, table: CustomerTable, variants: list[str], variant_column: str,
                examples: tuple[ExcludedRow, ...], covariate: str | None, *, by: str | None = None,
                home: tuple[np.ndarray, list[str]] | None = None) -> ExperimentData:
    """The arms of the kept customers; with ``by``, each group's arms too (``home``: each customer's group code
    and the group names, in order of first appearance)."""
    arms = {}
    for code, name in enumerate(variants):
        customers = table.customers[code]
        if not len(customers):
            raise DataError(f"{source}: variant {excerpt(name)} has zero customers left after excluding "
                            f"{table.excluded} customers seen in more than one variant")
        arms[name] = _arm(table, name, customers)
    if len(arms) < 2:
        raise DataError(f"{source}: column '{variant_column}': only one variant ({excerpt(variants[0])}); "
                        "an A/B test needs at least two")
    strata: dict[str, dict[str, Arm]] = {}
    if home is not None:
        group_of, groups = home
        for g, group in enumerate(groups):
            parts = {name: table.customers[code][group_of[table.customers[code]] == g]
                     for code, name in enumerate(variants)}
            if any(len(p) for p in parts.values()):
                strata[group] = {name: _arm(table, name, p) for name, p in parts.items() if len(p)}
    return ExperimentData(source, "per-customer", arms, excluded_customers=table.excluded,
                          duplicate_customers=table.duplicates, covariate=covariate, excluded_rows=examples,
                          by=by, strata=strata)


def _arm(table: CustomerTable, name: str, customers: np.ndarray) -> Arm:
    return Arm(name, len(customers), int(table.converted[customers].sum()),
               revenue=None if table.revenue is None else table.revenue[customers],
               covariate=None if table.covariate is None else table.covariate[customers])
