"""Finding 5: names and titles reached spreadsheets, diagrams, Markdown and terminals as they were written
(formula injection into ledger.csv and results.csv, Mermaid directives, a carriage return starting a Markdown
heading, raw ESC sequences), and look-alike names were accepted and shown identically."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml

from journeysim._safe import FORMULA_START, csv_cell, csv_text
from journeysim.cli import main
from journeysim.errors import MapError
from journeysim.experiments.ledger import read_ledger
from journeysim.maps.convert import to_mermaid
from journeysim.maps.read import load_journey, read_journey
from journeysim.report.document import Report, Section, Table
from journeysim.report.html import render_markdown

ROOT = Path(__file__).resolve().parents[2]
FORMULA = "=cmd|' /C calc'!A0"


def spreadsheet_would_run(cell: str) -> bool:
    return cell.startswith(FORMULA_START)


def test_a_formula_title_is_neutralised_in_the_ledger_and_read_back_as_written(tmp_path, capsys):
    body = json.loads((ROOT / "experiments" / "live-chat.prediction.json").read_text(encoding="utf-8"))
    body["hypothesis"] = FORMULA
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(body), encoding="utf-8")
    results = tmp_path / "ab.csv"
    results.write_text("variant,customers,conversions\ncontrol,100000,5000\nlive chat,100000,5500\n")
    ledger = tmp_path / "ledger.csv"
    assert main(["check", str(pred), str(results), "--ledger", str(ledger)]) == 0
    rows = list(csv.reader(ledger.read_text(encoding="utf-8").splitlines()))
    assert not any(spreadsheet_would_run(cell) for row in rows for cell in row if not _number(cell))
    assert "'" + FORMULA in rows[1]
    assert [e.hypothesis for e in read_ledger(ledger)] == [FORMULA]
    capsys.readouterr()


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_a_formula_title_is_neutralised_in_a_plan_s_results(tmp_path, capsys):
    (tmp_path / "scenarios").mkdir()
    shutil.copy(ROOT / "scenarios" / "online-store.yaml", tmp_path / "scenarios")
    hypothesis = yaml.safe_load((ROOT / "scenarios" / "hypotheses" / "live-chat.yaml").read_text(encoding="utf-8"))
    hypothesis.update(hypothesis="@SUM(1+1)*cmd", baseline="online-store.yaml")
    (tmp_path / "scenarios" / "h.yaml").write_text(yaml.safe_dump(hypothesis), encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text("hypotheses: [scenarios/h.yaml]\ndraws: 20\n", encoding="utf-8")
    assert main(["run", str(plan), "-o", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0]["hypothesis"] == "'@SUM(1+1)*cmd" and float(rows[0]["lift_abs"]) != 0
    jsonl = json.loads((tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8"))
    assert jsonl["hypothesis"] == "@SUM(1+1)*cmd"          # JSON is not a spreadsheet: the title as written
    capsys.readouterr()


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@A1", "\tx", "\rx", "'=quoted", "'", "", "plain", "a=b"])
def test_neutralising_is_reversible(text):
    cell = csv_cell(text)
    assert not spreadsheet_would_run(cell) and csv_text(cell) == text


def test_no_name_starts_a_mermaid_directive():
    name = '%%{init: {"theme": "forest"}}%%'
    j = read_journey({"name": "%%{init: {}}%% map", "entry": {name: 1.0},
                      "touchpoints": {name: {"stage": "a\r%%{x}%%"}, "b|c": {"goal": True, "stage": "a\r%%{x}%%"}},
                      "transitions": {name: {"b|c": 0.5}}})
    text = to_mermaid(j)
    assert "%" not in text and "\r" not in text
    assert '#37;#37;#123;init: #123;#34;theme#34;' in text


def test_a_carriage_return_cannot_start_a_markdown_heading():
    table = Table(("touchpoint", "visits"), (("ad\r# Pwned | x", "1"), ("b\u2028- item", "2")))
    md = render_markdown(Report("simulate", "t\r## h", sections=(Section("s", tables=(table,)),)))
    lines = [line for chunk in md.split("\n") for line in chunk.split("\r")]
    assert [line for line in lines if line.startswith("#")] == ["# t ## h", "## s"]
    assert "| ad # Pwned \\| x | 1 |" in md and "\u2028" not in md


def test_control_characters_never_reach_the_terminal(tmp_path, capsys):
    name = "ad\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e"
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"entry": {name: 1}, "touchpoints": {name: {}, "buy": {"goal": True}},
                                "transitions": {name: {"buy": 0.5}}}), encoding="utf-8")
    for argv in (["simulate", str(path)], ["simulate", str(path), "--json"], ["show", str(path)],
                 ["export", str(path), "--to", "mermaid"]):
        main(argv)
        out, err = capsys.readouterr()
        for stream in (out, err):
            assert not any(c in stream for c in "\x1b\x07\x9b\u202e"), (argv, stream[:300])
    main(["simulate", str(path), "--json"])
    assert name in json.loads(capsys.readouterr().out)["visit_rate"]    # JSON keeps the name, escaped


@pytest.mark.parametrize("names, message", [
    (["caf\u00e9", "cafe\u0301"], "the same text in two Unicode forms"),
    (["cart", "cart\u200b"], "differ only by invisible characters or spaces"),
    (["cart", "cart "], "differ only by invisible characters or spaces"),
    (["\ufeffad", "ad"], "differ only by invisible characters or spaces"),
])
def test_look_alike_names_are_refused(tmp_path, names, message):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"entry": {names[0]: 1}, "touchpoints": {**{n: {} for n in names}, "buy": {"goal": True}},
                                "transitions": {names[0]: {"buy": 0.5}}}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(MapError, match=message):
        load_journey(path)


def test_a_goal_named_like_exit_is_refused_and_nfd_is_read_as_nfc(tmp_path):
    with pytest.raises(MapError, match="looks like 'exit', which is reserved"):
        read_journey({"entry": {"ad": 1}, "touchpoints": {"ad": {}, "exit ": {"goal": True}},
                      "transitions": {"ad": {"exit ": 0.5}}})
    j = read_journey({"entry": {"cafe\u0301": 1}, "touchpoints": {"cafe\u0301": {}, "buy": {"goal": True}},
                      "transitions": {"caf\u00e9": {"buy": 0.5}}})
    assert j.names == ("caf\u00e9", "buy")
