"""Per-customer results read by columns: the same data as the exact reader and as pandas' groupby rules."""

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.errors import DataError
from journeysim.experiments import read_results
from journeysim.experiments.results import _Columns, _from_frame, _per_customer_csv, _read_csv

NAMES = dict(user_column="user_id", variant_column="variant", converted_column="converted", revenue_column="revenue",
             covariate_column=None)


def exact(path, delimiter=","):
    """The row-by-row reader the columnar one stands in for."""
    frame, lines = _read_csv(path, str(path), delimiter)
    return _from_frame(_Columns(frame, str(path), lines=lines), **NAMES)


def groupby_reference(frame: pd.DataFrame):
    """The customer rules as pandas' groupby applied them before the columnar reader (kept here as the reference)."""
    table = pd.DataFrame({"user": frame["user_id"].str.strip(), "variant": frame["variant"].str.strip(),
                          "converted": frame["converted"].str.strip().str.lower().isin({"1", "true", "yes"})})
    if "revenue" in frame:
        table["revenue"] = pd.to_numeric(frame["revenue"].str.strip())
    if "pre_spend" in frame:
        table["covariate"] = pd.to_numeric(frame["pre_spend"].str.strip())
    variants_per_user = table.groupby("user", sort=False)["variant"].nunique()
    mixed = variants_per_user.index[variants_per_user > 1]
    kept = table[~table["user"].isin(mixed)]
    grouped = kept.groupby(["variant", "user"], sort=False)
    agg = {"converted": "any"}
    if "revenue" in table:
        agg["revenue"] = "sum"
    if "covariate" in table:
        agg["covariate"] = "first"
    per_user = grouped.agg(agg)
    arms = {name: per_user.loc[name] for name in pd.unique(table["variant"]) if name in per_user.index.get_level_values(0)}
    return arms, len(mixed), int((grouped.size() > 1).sum())


def assert_same(a, b):
    assert list(a.arms) == list(b.arms)
    assert (a.excluded_customers, a.duplicate_customers, a.covariate) == (b.excluded_customers, b.duplicate_customers,
                                                                          b.covariate)
    assert a.excluded_rows == b.excluded_rows
    for name in a.arms:
        x, y = a.arms[name], b.arms[name]
        assert (x.customers, x.conversions) == (y.customers, y.conversions)
        for field in ("revenue", "covariate"):
            u, v = getattr(x, field), getattr(y, field)
            assert (u is None) == (v is None)
            if u is not None:
                np.testing.assert_allclose(u, v, rtol=1e-12, atol=0)


spaces = st.sampled_from(["", " ", "\t", "\u00a0", "\u2003"])


@st.composite
def result_files(draw):
    users = draw(st.lists(st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1,
                                  max_size=4), min_size=2, max_size=12, unique=True))
    variants = ["control", "B", draw(st.sampled_from(["C", "B ", "live chat"]))]
    n = draw(st.integers(4, 60))
    rows = []
    for _ in range(n):
        user = draw(spaces) + draw(st.sampled_from(users)) + draw(spaces)
        variant = draw(st.sampled_from(variants))
        flag = draw(st.sampled_from(["0", "1", "true", "FALSE", "Yes", "no", " 1 "]))
        revenue = draw(st.sampled_from(["0", "12.5", "3", "1e2", "0.1"]))
        rows.append([user, variant, flag, revenue, draw(st.sampled_from(["1", "2.25", "7"]))])
    # both arms are there, and at least one customer in each stays
    rows += [["only-control", "control", "0", "1", "1"], ["only-b", "B", "1", "2", "1"]]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=draw(st.sampled_from(["\n", "\r\n"])),
                        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    writer.writerow(["user_id", "variant", "converted", "revenue", "pre_spend"])
    writer.writerows(rows)
    body = text.getvalue()
    if draw(st.booleans()):   # a blank line shifts the line of every later row
        cut = body.index("\n", len(body) // 2) + 1
        body = body[:cut] + "\n" + body[cut:]
    return body


@settings(max_examples=40, deadline=None)
@given(text=result_files())
def test_columnar_reader_equals_the_exact_reader_and_groupby(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("ab") / "ab.csv"
    path.write_text(text, encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    try:
        fast = _per_customer_csv(path, str(path), ",", header, **NAMES)
        assert fast is not None, "a clean file is read by columns"
    except DataError as error:     # a variant left without customers: the same message either way
        with pytest.raises(DataError) as raised:
            exact(path)
        assert str(raised.value) == str(error)
        return
    assert_same(fast, exact(path))
    frame, _ = _read_csv(path, str(path), ",")
    arms, excluded, duplicates = groupby_reference(frame)
    assert (fast.excluded_customers, fast.duplicate_customers) == (excluded, duplicates)
    assert list(fast.arms) == list(arms)
    for name, rows in arms.items():
        arm = fast.arms[name]
        assert (arm.customers, arm.conversions) == (len(rows), int(rows["converted"].sum()))
        np.testing.assert_allclose(arm.revenue, rows["revenue"].to_numpy(float), rtol=1e-12)
        np.testing.assert_allclose(arm.covariate, rows["covariate"].to_numpy(float), rtol=0)


def test_padded_ids_are_one_customer_and_excluded_rows_name_their_lines(tmp_path):
    path = tmp_path / "ab.csv"
    path.write_text("user_id,variant,converted\n"
                    "u1,control,0\n"
                    "\n"                                   # blank: later rows move down a line
                    "\"u\n2\",B,1\n"                       # a line break inside a quoted id
                    " u1 ,B,1\n"                           # u1 again, padded, in another variant
                    "u3,control,yes\nu4,B,no\n", encoding="utf-8")
    data = read_results(path)
    assert data.excluded_customers == 1
    assert [str(r) for r in data.excluded_rows] == ["line 2 ('u1' in 'control')", "line 6 ('u1' in 'B')"]
    assert data.arms["B"].customers == 2 and data.arms["B"].conversions == 1
    assert_same(data, exact(path))


@pytest.mark.parametrize("bad,message", [
    ("u9,B,", "line 1003, column 'converted': '' is not a boolean"),
    ("  ,B,1", "line 1003, column 'user_id': empty value"),
    ("u9,B,1,4", "line 1003: 4 fields, the header has 3"),
])
def test_a_bad_row_deep_in_the_file_is_named_by_its_line(tmp_path, bad, message):
    rows = "".join(f"u{i},{'B' if i % 2 else 'control'},{i % 3 == 0:d}\n" for i in range(1000))
    path = tmp_path / "ab.csv"
    path.write_text("user_id,variant,converted\n" + rows + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"ab.csv: {message}"):
        read_results(path)


def test_semicolons_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "ab.csv"
    path.write_text("\ufeffuser_id;variant;converted;revenue\nu1;control;1;5\nu2;B;0;0\nu2;B;1;2.5\n",
                    encoding="utf-8")
    data = read_results(path)
    assert data.duplicate_customers == 1 and data.arms["B"].revenue.tolist() == [2.5]
    assert_same(data, exact(path, ";"))
