"""Finding 4: silently wrong. An aggregated A/B file whose counts overflow int64 printed customers
-9223372036854775808; an empty user_id merged every anonymous event into one customer (now such events are left
out, counted and reported); ``attribute --bootstrap 50
--seed 3`` gave another answer each run; ``fit`` wrote a touchpoint named ``2e5`` unquoted (read back as 200000.0) and
renamed one holding U+0085; an unbalanced quote in an event log made a touchpoint named ``"ad``. Also found on the
way: a self-loop of 0.999999999999999 gave the exact engine a conversion rate of 100.08%.

Now each is right or refused in one line."""

from __future__ import annotations

import json

import duckdb
import pytest

from journeysim.cli import main
from journeysim.engines.exact import solve_exact
from journeysim.maps.read import load_journey

ROOT_LOG = "scenarios/events/online-store-2025.csv"


def error_line(capsys, argv: list[str], code: int = 1) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err and "note:" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("customers, shown", [
    ("9223372036854775807", "'9223372036854775807'"),      # int64's largest: the sum of two wrapped to negative
    ("99999999999999999999999", "'99999999999999999999999'"),
    ("1e300", "'1e300'"),
])
def test_aggregated_counts_past_what_a_number_holds_exactly_are_refused(tmp_path, capsys, customers, shown):
    path = tmp_path / "ab.csv"
    path.write_text(f"variant,customers,conversions\ncontrol,{customers},100\nchat,1000,60\n", encoding="utf-8")
    line = error_line(capsys, ["analyze", str(path)])
    assert line == (f"{path}: line 2, column 'customers': {shown} is more than 9,007,199,254,740,992 (2**53), "
                    "the largest count read exactly")


def test_aggregated_rows_that_add_up_past_a_count_are_refused(tmp_path, capsys):
    path = tmp_path / "daily.csv"
    path.write_text("variant,customers,conversions,day\ncontrol,5000000000000000,100,1\n"
                    "control,5000000000000000,100,2\nchat,1000,60,1\nchat,1000,60,2\n", encoding="utf-8")
    line = error_line(capsys, ["analyze", str(path)])
    assert line == (f"{path}: line 2, column 'customers': variant 'control': its rows add up to more than "
                    "9,007,199,254,740,992 (2**53) customers, more than a count holds exactly")


def test_an_impossible_sum_of_squares_near_the_float_range_says_so_without_a_warning(tmp_path, capsys):
    path = tmp_path / "ab.csv"
    path.write_text("variant,customers,conversions,revenue_sum,revenue_sumsq\ncontrol,1000,100,1e308,1e308\n"
                    "chat,1000,60,5,50\n", encoding="utf-8")
    line = error_line(capsys, ["analyze", str(path)])   # sum^2 / n overflowed, with a RuntimeWarning note
    assert line == f"{path}: line 2, column 'revenue_sumsq': 1e+308 is less than revenue_sum^2/customers (impossible)"


# u1 converts, u2 does not; three anonymous events (an empty user id) between them belong to no customer.
EMPTY_USER = ("user_id,timestamp,touchpoint\nu1,2025-01-01 00:00:00,ad\nu1,2025-01-01 00:02:00,purchase\n"
              "{blank},2025-01-01 00:03:00,ad\n{blank},2025-01-01 00:04:00,purchase\nu2,2025-01-01 00:05:00,ad\n"
              "{blank},2025-01-01 00:06:00,page\nu2,2025-01-01 00:07:00,mail\n")
WITHOUT_USER = "3 events with an empty 'user_id' (the first in row 3) were left out: they belong to no customer"


@pytest.mark.parametrize("blank", ["", '""', '"   "', "\u3000"])
def test_events_with_an_empty_user_id_are_left_out_counted_and_reported(tmp_path, capsys, blank):
    """They once merged into one anonymous customer; then they refused the whole log. Now they are left out, with
    a warning giving their count and first row: the map is exactly that of u1 and u2."""
    path, clean = tmp_path / "log.csv", tmp_path / "clean.csv"
    path.write_text(EMPTY_USER.format(blank=blank), encoding="utf-8")
    clean.write_text("".join(line + "\n" for line in EMPTY_USER.format(blank="").splitlines()
                             if not line.startswith(",")), encoding="utf-8")
    assert main(["fit", str(path), "--goal", "purchase", "-o", str(tmp_path / "fitted.yaml"), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert (fit["events"], fit["journeys"], fit["events_without_user"], fit["first_row_without_user"]) == (4, 2, 3, 3)
    assert fit["warnings"] == [WITHOUT_USER]
    assert main(["fit", str(clean), "--goal", "purchase", "-o", str(tmp_path / "clean.yaml")]) == 0
    fitted, expected = load_journey(tmp_path / "fitted.yaml"), load_journey(tmp_path / "clean.yaml")
    assert dict(fitted.entry) == {"ad": 1.0} and fitted.rows["ad"]["purchase"].p == fitted.rows["ad"]["mail"].p == 0.5
    assert dict(fitted.observations) == dict(expected.observations) == {"entry": 2.0, "ad": 2.0, "mail": 1.0}
    assert fitted.rows == expected.rows and "page" not in fitted.touchpoints
    capsys.readouterr()
    assert main(["attribute", str(path), "--goal", "purchase"]) == 0
    shown = capsys.readouterr()
    assert f"warning: {WITHOUT_USER}" in shown.out and not shown.err
    assert main(["attribute", str(path), "--goal", "purchase", "--json"]) == 0
    attribution = json.loads(capsys.readouterr().out)
    assert attribution["models"]["last"] == {"ad": {"conversions": 1.0, "value": 0.0},
                                             "mail": {"conversions": 0.0, "value": 0.0}}
    assert (attribution["events_without_user"], attribution["first_row_without_user"]) == (3, 3)


def test_a_log_whose_every_event_lacks_a_user_id_has_no_events(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text("user_id,timestamp,touchpoint\n,2025-01-01 00:00:00,ad\n ,2025-01-01 00:02:00,purchase\n",
                    encoding="utf-8")
    for command in ("fit", "attribute"):
        extra = ["-o", str(tmp_path / "fitted.yaml")] if command == "fit" else []
        assert error_line(capsys, [command, str(path), "--goal", "purchase", *extra]) == (
            f"{path}: no events left: every one of the 2 events has an empty 'user_id', so none belongs to a customer "
            "(is it the customer id? name yours with --user-column)")
    assert not (tmp_path / "fitted.yaml").exists()


@pytest.mark.parametrize("text", [
    # the quote is the file's only one: pyarrow read to the end of the file inside it
    'user_id,timestamp,touchpoint\nu1,2025-01-01 00:00:00,ad\nu1,2025-01-01 00:01:00,purchase\n'
    'u3,2025-01-01 00:00:00,"ad\nu3,2025-01-01 00:01:00,purchase\n',
    # other fields are quoted well: DuckDB's sniffer gives up on the file
    'user_id,timestamp,touchpoint\nu1,2025-01-01 00:00:00,"product, page"\nu1,2025-01-01 00:01:00,purchase\n'
    'u3,2025-01-01 00:00:00,"ad\nu3,2025-01-01 00:01:00,purchase\n',
])
def test_an_unbalanced_quote_is_a_bad_row(tmp_path, capsys, text):
    path = tmp_path / "log.csv"
    path.write_text(text, encoding="utf-8")
    for command in ("fit", "attribute"):
        extra = ["-o", str(tmp_path / "fitted.yaml")] if command == "fit" else []
        line = error_line(capsys, [command, str(path), "--goal", "purchase", *extra])
        assert line.startswith(f"{path}: row 3") and "opens a quote that is never closed" in line, line


def test_quotes_used_as_csv_means_them_still_read(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text('user_id,timestamp,touchpoint\nu1,2025-01-01 00:00:00,"12"" screen"\n'
                    'u1,2025-01-01 00:01:00,purchase\nu2,2025-01-01 00:00:00,"two\nlines"\n'
                    'u2,2025-01-01 00:01:00,purchase\n', encoding="utf-8")
    assert main(["fit", str(path), "--goal", "purchase", "-o", str(tmp_path / "fitted.yaml")]) == 0
    capsys.readouterr()
    assert set(load_journey(tmp_path / "fitted.yaml").names) == {'12" screen', "two\nlines", "purchase"}


def test_a_name_that_starts_with_its_own_quote_is_read_not_refused(tmp_path, capsys):
    # '"Sale" banner' and '"' are touchpoints: well quoted, their quotes doubled (found by a round-trip property)
    path = tmp_path / "log.csv"
    path.write_text('user_id,timestamp,touchpoint\nu1,2025-01-01 00:00:00,"""Sale"" banner"\n'
                    'u1,2025-01-01 00:01:00,""""\nu2,2025-01-01 00:00:00,"""Sale"" banner"\n', encoding="utf-8")
    for command in ("fit", "attribute"):
        extra = ["-o", str(tmp_path / "fitted.yaml")] if command == "fit" else []
        assert main([command, str(path), "--goal", '"', *extra]) == 0, capsys.readouterr().err
    capsys.readouterr()
    fitted = load_journey(tmp_path / "fitted.yaml")
    assert set(fitted.names) == {'"Sale" banner', '"'} and fitted.rows['"Sale" banner']['"'].p == 0.5


def test_names_yaml_would_retype_survive_fit(tmp_path, capsys):
    names = ["2e5", "yes", "2024-01-31", "caf\u0085e", "0x1F", "~", "null"]
    rows = [f"u{i},2025-01-01 00:00:0{k},{name if k == 0 else 'purchase'}" for i, name in enumerate(names)
            for k in (0, 1)]
    rows = [r.replace("caf\u0085e", '"caf\u0085e"') for r in rows]
    path = tmp_path / "log.csv"
    path.write_text("user_id,timestamp,touchpoint\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["fit", str(path), "--goal", "purchase", "-o", str(tmp_path / "fitted.yaml")]) == 0
    capsys.readouterr()
    assert set(load_journey(tmp_path / "fitted.yaml").names) == {*names, "purchase"}
    assert main(["validate", str(tmp_path / "fitted.yaml")]) == 0


def _attribution(monkeypatch, capsys, threads: int) -> dict:
    connect = duckdb.connect

    def with_threads(*args, config=None, **kwargs):
        return connect(*args, config={**(config or {}), "threads": threads}, **kwargs)

    monkeypatch.setattr(duckdb, "connect", with_threads)
    assert main(["attribute", ROOT_LOG, "--goal", "purchase", "--bootstrap", "20", "--seed", "3", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_seeded_bootstrap_is_the_same_on_every_run_and_thread_count(monkeypatch, capsys):
    first = _attribution(monkeypatch, capsys, 1)
    assert first["bootstrap"] == 20 and first["removal_effects_ci"]["reviews"][0] < first["removal_effects_ci"]["reviews"][1]
    for threads in (1, 2, 4):
        assert _attribution(monkeypatch, capsys, threads) == first


def test_a_loop_left_with_one_chance_in_1e15_converts_everyone_exactly(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("entry: {a: 1}\ntouchpoints:\n  a: {}\n  buy: {goal: true}\n"
                    "transitions:\n  a: {a: 0.999999999999999, buy: 0.000000000000001}\n", encoding="utf-8")
    m = solve_exact(load_journey(path))
    # 1 - 0.999999999999999 is 9.992e-16 in floating point: the row's exit (0) plus its other edges (1e-15) is exact.
    assert m.conversion_rate == 1.0 and m.expected_touches == pytest.approx(1e15 + 1, rel=1e-12)
