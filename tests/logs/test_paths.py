"""Path files: identical paths added up first; the pyarrow reading of clean CSVs equals DuckDB's."""

import csv
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.errors import DataError
from journeysim.logs._sql import trimmed
from journeysim.logs.paths import _duckdb_paths, read_clean_path_csv, read_path_file
from journeysim.logs.sources import connect, open_source


def duckdb_table(path):
    with connect() as con:
        return _duckdb_paths(con, open_source(con, path))


def assert_same(a, b):
    assert a.channels == b.channels
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.touches, b.touches)
    np.testing.assert_array_equal(a.conversions, b.conversions)
    np.testing.assert_array_equal(a.nulls, b.nulls)
    np.testing.assert_allclose(a.value, b.value, rtol=1e-12)


channel_names = st.text(st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters='>"\\'),
                        min_size=1, max_size=5).map(trimmed).filter(bool)


@st.composite
def path_files(draw):
    names = draw(st.lists(channel_names, min_size=1, max_size=6, unique=True))
    rows = []
    for _ in range(draw(st.integers(1, 40))):
        touches = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5))
        # the same path written with and without spaces around the separator
        path = draw(st.sampled_from([">", " > ", "> ", "  >"])).join(touches)
        conversions = draw(st.integers(0, 5))
        value = draw(st.sampled_from(["", "0", "12.5", "3"])) if conversions else draw(st.sampled_from(["", "0"]))
        rows.append([path, conversions, draw(st.integers(0, 5)), value])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "total_conversions", "total_null", "total_conversion_value"])
    writer.writerows(rows)
    return text.getvalue()


@settings(max_examples=40, deadline=None)
@given(text=path_files())
def test_clean_csv_reading_equals_duckdb(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("paths") / "paths.csv"
    path.write_text(text, encoding="utf-8")
    fast = read_clean_path_csv(path)
    assert fast is not None
    assert_same(fast, duckdb_table(path))


@pytest.mark.parametrize("text, channels", [
    # found by the property above: DuckDB's sniffer read the path column as booleans ('true') or numbers (7)
    ("path,total_conversions,total_null,total_conversion_value\nT,0,0,\n", ("T",)),
    ("path,total_conversions,total_null\nT,1,3\nF,2,5\n", ("T", "F")),
    ("path,total_conversions,total_null\n007,1,3\n1.50,2,5\n", ("007", "1.50")),
])
def test_paths_that_look_like_booleans_or_numbers_stay_text(tmp_path, text, channels):
    path = tmp_path / "paths.csv"
    path.write_text(text, encoding="utf-8")
    assert read_clean_path_csv(path).channels == duckdb_table(path).channels == tuple(sorted(channels))


def test_identical_paths_are_one_row_in_order_of_first_appearance(tmp_path):
    path = tmp_path / "paths.csv"
    path.write_text("path,total_conversions,total_null,total_conversion_value\n"
                    "b > a,1,0,10\nb,0,1,\nb>a,2,3,5\nb > a ,0,1,0\n", encoding="utf-8")
    for table in (read_clean_path_csv(path), duckdb_table(path)):
        assert table.channels == ("a", "b")
        assert table.offsets.tolist() == [0, 2, 3] and table.touches.tolist() == [1, 0, 1]
        assert table.conversions.tolist() == [3, 0] and table.nulls.tolist() == [4, 1]
        assert table.value.tolist() == [15, 0]


@pytest.mark.parametrize("text,message", [
    ("path,total_conversions,total_null\na,1,0\na > > b,1,0\n", "row 2: path 'a > > b' has an empty touchpoint"),
    ("path,total_conversions,total_null\na,1,0\nb,x,0\n", "row 2: total_conversions 'x' is not a number"),
    ("path,total_conversions,total_null\na,1,0\nb,1,-2\n", "row 2: total_null -2 is negative"),
    ("path,total_conversions,total_null\na,1,0\nb,inf,0\n", "row 2: total_conversions 'inf' is not a finite number"),
    ("path,total_conversions,total_null,total_conversion_value\na,1,0,\nb,0,1,4\n",
     "row 2: total_conversion_value 4 on a path with no conversions"),
])
def test_a_file_that_does_not_read_cleanly_names_its_row(tmp_path, text, message):
    path = tmp_path / "paths.csv"
    path.write_text(text, encoding="utf-8")
    assert read_clean_path_csv(path) is None
    with connect() as con, pytest.raises(DataError, match=f"paths.csv: {message}"):
        read_path_file(con, open_source(con, path))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_path_file_without_conversions_is_refused(tmp_path, capsys, suffix):
    # attribute credited 0 to every touchpoint under every model without a word; fit said its goal was unreachable
    import pandas as pd

    from journeysim.cli import main

    path = tmp_path / f"paths{suffix}"
    rows = pd.DataFrame({"path": ["a > b", "b"], "total_conversions": [0, 0], "total_null": [5, 7]})
    rows.to_csv(path, index=False) if suffix == ".csv" else rows.to_parquet(path)
    for argv in (["attribute", str(path)], ["fit", str(path), "-o", str(tmp_path / "map.yaml")]):
        assert main(argv) == 1
        assert capsys.readouterr().err.strip() == (f"{path}: no conversions: total_conversions is 0 on every path (a "
                                                   "path file lists journeys and how many of them converted)")
    assert not (tmp_path / "map.yaml").exists()
