"""Output for people: tables fit the terminal, numbers read as counts, money and percentages, options take the
forms people write (10%, 2,000/day), every command says what it wrote and shows examples in its --help."""

import argparse
import json
import re

import pytest

from journeysim.cli import COMMANDS, build_parser, main

from tests.conftest import ROOT, SCENARIOS

EXPERIMENTS = ROOT / "experiments"


def lines_of(capsys, argv, monkeypatch, columns=80):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(argv) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("argv", [
    ["analyze", str(EXPERIMENTS / "live-chat.results.csv")],
    ["simulate", str(SCENARIOS / "online-store.yaml")],
    ["simulate", str(SCENARIOS / "omnichannel-sk.yaml"), "--engine", "montecarlo", "--customers", "20000",
     "--seed", "1", "--quiet"],
    ["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine", "agents", "--days", "3", "--seed", "1",
     "--quiet"],
    ["predict", str(SCENARIOS / "hypotheses" / "qr-kod-zlava.yaml"), "--draws", "50", "--seed", "1"],
    ["design", "--baseline", "5%", "--lift", "10%", "--traffic", "2,000/day", "--customers", "50000"],
    ["check", str(EXPERIMENTS / "live-chat.prediction.json"), str(EXPERIMENTS / "live-chat.results.csv")],
    ["show", str(SCENARIOS / "omnichannel-sk.yaml")],
])
def test_tables_fit_80_columns(argv, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    out, err = capsys.readouterr()
    long = [line for line in (out + err).splitlines() if len(line) > 80]   # the one-line hints too
    assert long == []


def test_a_wide_table_breaks_headers_never_numbers(capsys, monkeypatch):
    # Eight attribution models beside the touchpoints: at 80 columns something must break. Headers may; a number
    # folded over two lines ("13,27" then "2") reads as another number, and a name broken inside a word misleads.
    lines = lines_of(capsys, ["attribute", str(SCENARIOS / "events" / "online-store-2026.csv"), "--goal", "purchase",
                              "--model", "all"], monkeypatch)
    assert [line for line in lines if len(line) > 80] == []
    body = [line for line in lines if line.startswith("│")]
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in body]
    numbers = [c for row in rows if len(row) > 2 for c in row[1:] if c]    # the tables of models and effects
    assert {"13,970", "33,000", "-1,110", "349.2"} <= set(numbers)                # whole numbers, grouped
    assert all(re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?%?", c) for c in numbers), numbers
    assert {"cart", "reviews", "newsletter", "recommend"} <= {row[0] for row in rows}  # names broken only at spaces


def test_the_run_ranking_fits_80_columns(tmp_path, capsys, monkeypatch):
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"plan: two ideas\nhypotheses:\n  - {SCENARIOS / 'hypotheses' / 'live-chat.yaml'}\n"
                    f"  - {SCENARIOS / 'hypotheses' / 'b2b-faster-trial.yaml'}\ndraws: 50\nseeds: [1, 2]\n",
                    encoding="utf-8")
    lines = lines_of(capsys, ["run", str(plan), "-o", str(tmp_path / "out"), "--workers", "1", "--quiet",
                              "--allow-outside"], monkeypatch)
    assert [line for line in lines if len(line) > 80] == []
    assert any("┃ seed ┃" in line for line in lines[:4])     # two seeds: the table gets a seed column


def test_without_a_terminal_rows_stay_whole(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["analyze", str(EXPERIMENTS / "live-chat.results.csv")]) == 0
    out = capsys.readouterr().out
    assert "│ conversion rate  │ 5.00% [4.13%, 6.04%] │          5.78% [4.82%, 6.90%] │" in out


def test_counts_money_and_percentages(capsys, monkeypatch, tmp_path):
    lines = "\n".join(lines_of(capsys, ["analyze", str(EXPERIMENTS / "live-chat.aggregated.csv")], monkeypatch))
    assert "250,255" in lines and "12,295" in lines                     # counts grouped, no decimals
    assert "+15.77% [+13.08%, +18.52%]" in lines                           # relative lift in percent
    eur = tmp_path / "eur.yaml"
    eur.write_text("currency: EUR\n" + (SCENARIOS / "online-store.yaml").read_text(encoding="utf-8"),
                   encoding="utf-8")
    out = "\n".join(lines_of(capsys, ["simulate", str(eur)], monkeypatch))
    assert "│ conversion rate                   │    4.84% │" in out
    assert "│ expected value per customer       │ 1.99 EUR │" in out
    out = "\n".join(lines_of(capsys, ["simulate", str(eur), "--currency", "CZK"], monkeypatch))
    assert "1.99 CZK" in out                                             # the command line wins over the map
    plain = json.loads("\n".join(lines_of(capsys, ["simulate", str(eur), "--json"], monkeypatch)))
    assert plain["expected_value"] == pytest.approx(1.98774, abs=1e-5)   # JSON keeps the raw number


def test_an_interval_level_is_written_as_given(capsys, monkeypatch):
    # every level was rounded to a whole percent: a 97.5% interval read "98%", a 99.9% one "100%"
    out = "\n".join(lines_of(capsys, ["predict", str(SCENARIOS / "hypotheses" / "live-chat.yaml"), "--draws", "50",
                                      "--seed", "1", "--level", "0.999"], monkeypatch, columns=200))
    assert "99.9% interval" in out and "100%" not in out
    out = " ".join(out.split())         # the method wraps
    assert "a 99.9% interval needs at least 2,000 (a draw beyond each end)" in out and "use 2,000 or more" in out
    out = "\n".join(lines_of(capsys, ["check", str(EXPERIMENTS / "live-chat.prediction.json"),
                                      str(EXPERIMENTS / "live-chat.results.csv"), "--no-ledger", "--alpha", "0.025"],
                             monkeypatch, columns=200))
    assert "(97.5% interval)" in out and "(98% interval)" not in out


def test_a_title_is_wrapped_to_the_terminal_not_to_its_table(monkeypatch):
    from journeysim._text import format_table

    title = "interim look 1 of 5 (obrien-fleming spending, nominal p 1.078e-06)"
    monkeypatch.delenv("COLUMNS", raising=False)           # a file or a pipe: one line, however narrow the table
    assert format_table(title, ["variant", "z"], [["live chat", 1.9484]]).splitlines()[0] == title
    narrow = format_table(title, ["variant", "z"], [["live chat", 1.9484]], width=30).splitlines()
    assert narrow[:3] == ["interim look 1 of 5", "  (obrien-fleming spending,", "  nominal p 1.078e-06)"]
    assert max(map(len, narrow)) <= 30


def test_calibrate_prints_lifts_in_percent(tmp_path, capsys, monkeypatch):
    lines = lines_of(capsys, ["calibrate", str(EXPERIMENTS / "live-chat.prediction.json"),
                              str(EXPERIMENTS / "live-chat.aggregated.csv"), "-o", str(tmp_path / "cal.yaml")],
                     monkeypatch, columns=120)
    text = "\n".join(lines)
    assert "(median [90%" in text                             # the level in percent too
    assert "│ relative lift          │ +19.65% [+16.11%, +23.61%] │ +16.69% [+15.28%, +18.77%] │" in text
    assert "observed relative lift +15.77% (live chat)" in text
    capsys.readouterr()
    assert main(["calibrate", str(EXPERIMENTS / "live-chat.prediction.json"),
                 str(EXPERIMENTS / "live-chat.aggregated.csv"), "-o", str(tmp_path / "cal2.yaml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["observed_lift_rel"] == pytest.approx(0.1577, abs=1e-4)  # JSON: fractions


def test_a_bad_currency_is_a_map_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("currency: [EUR]\n" + (SCENARIOS / "online-store.yaml").read_text(encoding="utf-8"),
                   encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    assert "currency: ['EUR'] is not a currency code or symbol" in capsys.readouterr().err


def test_agent_tables_show_what_the_budget_and_the_queues_did(capsys, monkeypatch):
    out = "\n".join(lines_of(capsys, ["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine",
                                      "agents", "--days", "7", "--seed", "1", "--quiet", "--json"], monkeypatch))
    data = json.loads(out)
    text = "\n".join(lines_of(capsys, ["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine",
                                       "agents", "--days", "7", "--seed", "1", "--quiet"], monkeypatch, 120))
    skipped = data["touchpoints"]["search ad"]["skipped"]
    assert skipped > 0
    turned = next(line for line in text.splitlines() if "turned away at entry (budget spent)" in line)
    assert turned.split("│")[2].strip() == f"{skipped:,}"               # the only budget is at an entry
    touchpoints = text[text.index("\ntouchpoints\n"):]
    chat = next(line for line in touchpoints.splitlines() if line.startswith("│ live chat "))
    assert f"{data['touchpoints']['live chat']['abandoned']:,}" in chat
    assert f"{100 * data['touchpoints']['live chat']['utilisation']:.2f}%" in chat


def test_top_paths_show_share_and_whether_they_converted(capsys, monkeypatch):
    text = "\n".join(lines_of(capsys, ["simulate", str(SCENARIOS / "online-store.yaml"), "--engine", "montecarlo",
                                       "--customers", "20000", "--seed", "1", "--quiet"], monkeypatch, 120))
    header = next(line for line in text.splitlines() if "┃ path" in line)
    assert "share" in header and "converted" in header and "conversion rate" not in header
    assert any(line.startswith("│ search ad > product page > cart > purchase ") and line.rstrip("│ ").endswith("yes")
               for line in text.splitlines())


@pytest.mark.parametrize("written, same_as", [
    (["--baseline", "5%", "--lift", "10%", "--traffic", "2,000/day"],
     ["--baseline", "0.05", "--lift", "0.10", "--relative", "--traffic", "2000/day"]),
    (["--baseline", "5%", "--lift", "0.5pp", "--alpha", "5%", "--power", "80%"],
     ["--baseline", "0.05", "--lift", "0.005", "--alpha", "0.05", "--power", "0.8"]),
    (["--baseline", "0.05", "--lift", "0.005", "--customers", "1,000,000"],
     ["--baseline", "0.05", "--lift", "0.005", "--customers", "1000000"]),
])
def test_percent_points_and_grouped_digits_are_accepted(written, same_as, capsys):
    assert main(["design", *written, "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["design", *same_as, "--json"]) == 0
    assert first == capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["design", "--baseline", "0,05", "--lift", "0.01"],
     "--baseline '0,05': must be a number > 0 (write decimals with a point: 0.05)"),
    (["design", "--baseline", "0.05", "--lift", "0.5pp", "--relative"],
     "--lift '0.5pp' is in percentage points, an absolute lift: it cannot be --relative"),
    (["design", "--baseline", "0.05", "--lift", "10%", "--traffic", "2,00/day"],
     "--traffic '2,00/day': write customers per time"),
])
def test_misgrouped_and_contradictory_forms_are_refused(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def _commands():
    """Every (sub)command's parser, with its name."""
    for name in COMMANDS:
        parser = build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        command = sub.choices[name]
        yield name, command
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from ((f"{name} {k}", p) for k, p in action.choices.items())


def test_every_positional_argument_is_described():
    missing = [f"{name} {a.metavar or a.dest}" for name, parser in _commands() for a in parser._actions
               if not a.option_strings and not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert missing == []


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_ends_with_examples(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    tail = capsys.readouterr().out.rstrip().split("examples:\n")
    assert len(tail) == 2 and tail[1].strip().startswith(f"journeysim {command} ")


def test_commands_that_write_say_what_they_wrote(tmp_path, capsys):
    out = tmp_path / "map.graphml"
    assert main(["export", str(SCENARIOS / "online-store.yaml"), "--to", "graphml", "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"wrote {out}\n"
    saved = tmp_path / "p.json"
    assert main(["predict", str(SCENARIOS / "hypotheses" / "live-chat.yaml"), "--draws", "20", "--seed", "1",
                 "--save", str(saved), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["draws"] == 20 and captured.err == f"wrote {saved}\n"
    folder = tmp_path / "tables"
    assert main(["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine", "agents", "--days", "3",
                 "--seed", "1", "--quiet", "--csv", str(folder), "--json"]) == 0
    assert capsys.readouterr().err == f"wrote {folder / 'daily.csv'} and {folder / 'touchpoints.csv'}\n"
