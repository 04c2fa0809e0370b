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
