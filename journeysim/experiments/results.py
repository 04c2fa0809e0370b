"""Reading A/B test results: per-customer or aggregated rows, CSV or Parquet.

Real exports rarely use our column names or encodings, so every column can be
renamed and booleans may be written 0/1, true/false (any case) or yes/no. An
aggregated file with several rows per arm (one per day, or per segment) is
summed per arm, and the rows summed are counted; ``by`` keeps the sums of each
group of a column apart as well (strata, for a stratified analysis). Every
problem names the file, the line (CSV, header = line 1) or row (Parquet) and
the column.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from journeysim.errors import DataError, did_you_mean, excerpt

__all__ = ["Arm", "ExperimentData", "read_results", "results_from_frame"]

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
class ExperimentData:
    """An A/B test result: the arms in the order they first appear in the file.

    ``rows`` counts the aggregated rows summed into each arm (empty for per-customer
    files); with ``by``, ``strata`` holds each group's arms (groups in the order they
    first appear), whose sums are ``arms``.
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
    frame = _read_frame(path, source)
    return results_from_frame(frame, source, parquet=Path(path).suffix.lower() == ".parquet",
                              user_column=user_column, variant_column=variant_column,
                              converted_column=converted_column, revenue_column=revenue_column,
                              covariate_column=covariate_column, customers_column=customers_column,
                              conversions_column=conversions_column, revenue_sum_column=revenue_sum_column,
                              revenue_sumsq_column=revenue_sumsq_column, by=by)


def _read_frame(path, source: str) -> pd.DataFrame:
    if Path(path).is_dir():
        raise DataError(f"{source}: is a folder, not a results file")
    if not Path(path).is_file():
        raise DataError(f"{source}: no such file")
    if Path(path).suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise DataError(f"{source}: cannot read Parquet ({str(exc).splitlines()[0]})") from None
    else:
        frame = _read_csv(path, source)
    frame.columns = [str(c).strip() for c in frame.columns]
    seen = set()
    for col in frame.columns:
        if col in seen:
            raise DataError(f"{source}: column '{col}' appears more than once in the header")
        seen.add(col)
    if frame.empty:
        raise DataError(f"{source}: no data rows (only a header)")
    return frame


def _delimiter(fh) -> str:
    """``,`` unless the header has none and uses ``;`` or a tab (European spreadsheet exports)."""
    first = fh.readline()
    fh.seek(0)
    if "," in first:
        return ","
    return max(";\t", key=first.count) if any(c in first for c in ";\t") else ","


def _read_csv(path, source: str) -> pd.DataFrame:
    # the csv module rather than pandas: a row with too many fields must be an error naming its line,
    # where pandas would silently turn the extra leading fields into an index
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=_delimiter(fh))
            header = next(reader, None)
            if header is None:
                raise DataError(f"{source}: empty file (expected a header row and data rows)")
            rows, lines = [], []
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
    frame.attrs["lines"] = lines
    return frame


def results_from_frame(frame: pd.DataFrame, source: str, *, parquet: bool = False, user_column: str = "user_id",
                       variant_column: str = "variant", converted_column: str = "converted",
                       revenue_column: str = "revenue", covariate_column: str | None = None,
                       customers_column: str | None = None, conversions_column: str | None = None,
                       revenue_sum_column: str | None = None, revenue_sumsq_column: str | None = None,
                       by: str | None = None) -> ExperimentData:
    """Validate and reduce a table of results (see :func:`read_results`)."""
    reader = _Columns(frame, source, parquet)
    named = {"customers": customers_column, "conversions": conversions_column, "revenue_sum": revenue_sum_column,
             "revenue_sumsq": revenue_sumsq_column}
    aggregated = {k: v or k for k, v in named.items()}
    if by is not None:
        reader.require(by, "--by")
    if any(v is not None for v in named.values()) or all(aggregated[c] in frame.columns for c in _AGGREGATED):
        return _aggregated(reader, variant_column, aggregated, by)
    return _per_customer(reader, user_column, variant_column, converted_column, revenue_column, covariate_column, by)


class _Columns:
    """Column access that names the file, the row and the column in every error."""

    def __init__(self, frame: pd.DataFrame, source: str, parquet: bool):
        self.lines = frame.attrs.get("lines")
        self.frame, self.source, self.parquet = frame.reset_index(drop=True), source, parquet

    def where(self, i: int) -> str:
        if self.parquet:
            return f"row {i + 1}"
        return f"line {self.lines[i] if self.lines else i + 2}"

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

    def count(self, column: str) -> np.ndarray:
        values = self.number(column)
        bad = (values < 0) | (values != np.round(values))
        if bad.any():
            i = np.flatnonzero(bad)[0]
            self.fail(i, column, f"{values[i]:g} is not a whole number >= 0")
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
            # sum of squares below sum^2/n would be a negative variance
            if customers[i] and sumsq[i] < sums[i] ** 2 / customers[i] * (1 - 1e-9):
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
    same = ", ".join(f"{c} {keys.iloc[i, k + 1]!r}" for k, c in enumerate(others))
    cols.fail(i, variant_column, f"variant {excerpt(name)} with {same} appears on more than one row (also "
                                 f"{cols.where(first)}): a row counted twice")


def _per_customer(cols: _Columns, user_column: str, variant_column: str, converted_column: str,
                  revenue_column: str, covariate_column: str | None, by: str | None) -> ExperimentData:
    aggregated = ("; an aggregated file (one row per variant, or per variant and day) needs variant, customers and "
                  "conversions columns: name yours with --variant-column, --customers-column and --conversions-column")
    cols.require(user_column, "--user-column", aggregated)
    cols.require(variant_column, "--variant-column")
    cols.require(converted_column, "--converted-column")
    if covariate_column is not None:
        cols.require(covariate_column)
    else:
        covariate_column = next((c for c in cols.frame.columns if str(c).startswith("pre_")), None)
    table = pd.DataFrame({
        "user": cols.text(user_column),
        "variant": cols.text(variant_column),
        "converted": cols.boolean(converted_column),
    })
    if revenue_column in cols.frame.columns:
        table["revenue"] = cols.number(revenue_column)
    if covariate_column is not None:
        table["covariate"] = cols.number(covariate_column)
    if by is not None:
        table["group"] = cols.text(by)
        _one_group(cols, table, by)
    order = list(pd.unique(table["variant"]))
    variants_per_user = table.groupby("user", sort=False)["variant"].nunique()
    mixed = variants_per_user.index[variants_per_user > 1]
    kept = table[~table["user"].isin(mixed)]
    grouped = kept.groupby(["variant", "user"], sort=False)
    agg = {"converted": "any"}
    if "revenue" in table:
        agg["revenue"] = "sum"  # several purchases by one customer add up
    if "covariate" in table:
        agg["covariate"] = "first"
    if by is not None:
        agg["group"] = "first"
    per_user = grouped.agg(agg)
    duplicates = int((grouped.size() > 1).sum())
    arms = {}
    for name in order:
        if name not in per_user.index.get_level_values(0):
            raise DataError(f"{cols.source}: variant {excerpt(name)} has zero customers left after excluding "
                            f"{len(mixed)} customers seen in more than one variant")
        arms[name] = _arm(name, per_user.loc[name])
    if len(arms) < 2:
        raise DataError(f"{cols.source}: column '{variant_column}': only one variant ({excerpt(order[0])}); "
                        "an A/B test needs at least two")
    strata = {}
    for group in (pd.unique(kept["group"]) if by is not None else ()):
        part = per_user[per_user["group"] == group]
        strata[group] = {name: _arm(name, part.loc[name]) for name in order if name in part.index.get_level_values(0)}
    return ExperimentData(cols.source, "per-customer", arms, excluded_customers=len(mixed),
                          duplicate_customers=duplicates, covariate=covariate_column if "covariate" in table else None,
                          by=by, strata=strata)


def _arm(name: str, rows: pd.DataFrame) -> Arm:
    return Arm(name, len(rows), int(rows["converted"].sum()),
               revenue=rows["revenue"].to_numpy(dtype=float) if "revenue" in rows else None,
               covariate=rows["covariate"].to_numpy(dtype=float) if "covariate" in rows else None)


def _one_group(cols: _Columns, table: pd.DataFrame, by: str) -> None:
    """Refuse a customer whose rows name two groups of ``by``: a customer is in one stratum."""
    groups = table.groupby("user", sort=False)["group"].nunique()
    if (groups > 1).any():
        user = groups.index[groups > 1][0]
        rows = np.flatnonzero((table["user"] == user).to_numpy())
        first = table["group"].iloc[rows[0]]
        i = next(r for r in rows if table["group"].iloc[r] != first)
        cols.fail(i, by, f"customer {user!r} is in group {table['group'].iloc[i]!r} here and in {first!r} on "
                         f"{cols.where(rows[0])} (a customer is in one group)")
