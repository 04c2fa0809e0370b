"""The fast readers trim names exactly as DuckDB's ``trim`` does (they must agree on every name)."""

from __future__ import annotations

import duckdb

from journeysim.logs._sql import SPACES, trimmed


def test_spaces_are_the_characters_duckdbs_trim_takes_off():
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    texts = [f"{ch}a{ch}" for ch in chars]
    with duckdb.connect() as con:
        duck = con.execute("SELECT list_transform($t, lambda x: trim(x))", {"t": texts}).fetchone()[0]
    taken = {ch for ch, d in zip(chars, duck) if d == "a"}
    assert taken == set(SPACES)
    assert all(trimmed(t) == d for t, d in zip(texts, duck))


def test_a_no_break_space_around_a_name_is_trimmed_by_every_reader(tmp_path):
    import pandas as pd

    from journeysim.fitting.fit import fit_events

    frame = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2"],
                          "timestamp": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 00:01"] * 2),
                          "touchpoint": ["ad\u00a0", "buy", "\u3000ad", "buy\u2009"]})
    for name in ("log.csv", "log.parquet"):       # the fast CSV reader, and DuckDB's reader of Parquet
        path = tmp_path / name
        frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
        fit = fit_events(path, goals=["buy"])
        assert fit.journey.names == ("ad", "buy") and fit.journey.rows["ad"]["buy"].p == 1.0, name


def test_the_sql_for_an_empty_user_id_is_true_exactly_when_trim_leaves_nothing():
    """DuckDB's readers judge a user id by :meth:`Source.no_user` (trim only for texts that may start with a
    space), the fast reader by :func:`trimmed`: they agree on every character of the BMP, alone or beside
    others."""
    from journeysim.logs.sources import Source

    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001F600"]
    texts = [None, "", *chars, *(c + "a" for c in chars), *(c + " " for c in chars), *(" " + c for c in chars)]
    sql = Source("log.csv", "events", (), "").no_user("u")
    with duckdb.connect() as con:
        duck = con.execute(f"SELECT list_transform($t, lambda u: {sql})", {"t": texts}).fetchone()[0]
    assert duck == [t is None or not trimmed(t) for t in texts]
