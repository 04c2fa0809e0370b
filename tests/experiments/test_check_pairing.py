"""``check`` refuses to record a result's variant that the ledger already records as another hypothesis's test."""

from __future__ import annotations

import shutil

import pytest

from journeysim.cli import main
from tests.conftest import ROOT

EXPERIMENTS = ROOT / "experiments"
LIVE_CHAT = str(EXPERIMENTS / "live-chat.prediction.json")
QR = str(EXPERIMENTS / "qr-kod-zlava.prediction.json")
LIVE_CHAT_TITLE = "Live chat at checkout cuts cart abandonment"
QR_TITLE = "QR kód so zľavou zvýši nákupy z letákov"


@pytest.fixture
def ledger(tmp_path):
    path = tmp_path / "ledger.csv"
    shutil.copy(EXPERIMENTS / "ledger.csv", path)
    return path


def lines(path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_result_of_another_hypothesis_is_refused(ledger, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    results = "experiments/live-chat.aggregated.csv"    # as the bundled ledger records it (line 3)
    before = lines(ledger)
    assert main(["check", QR, results, "--ledger", str(ledger)]) == 1
    err = capsys.readouterr().err
    assert err == (f"{ledger}: line 3 already records {results} (variant 'live chat') as the test of another "
                   f"hypothesis, '{LIVE_CHAT_TITLE}' (experiments/live-chat.prediction.json); check that it tested "
                   f"'{QR_TITLE}', or record it anyway with --force\n")
    assert lines(ledger) == before


def test_matching_is_by_content_and_force_records_it_anyway(ledger, tmp_path, capsys):
    copy = tmp_path / "renamed.csv"              # another name, the same bytes: still the same test
    shutil.copy(EXPERIMENTS / "live-chat.aggregated.csv", copy)
    before = lines(ledger)
    assert main(["check", QR, str(copy), "--ledger", str(ledger)]) == 1
    assert "as the test of another hypothesis" in capsys.readouterr().err
    assert main(["check", QR, str(copy), "--ledger", str(ledger), "--force"]) == 0
    assert lines(ledger) == before + 1


def test_arms_of_one_test_may_test_different_hypotheses(ledger, tmp_path, capsys):
    three = tmp_path / "three-arms.csv"
    three.write_text("variant,customers,conversions\ncontrol,50000,2500\nchat,50000,2650\nqr,50000,2700\n",
                     encoding="utf-8")
    assert main(["check", LIVE_CHAT, str(three), "--variant", "chat", "--ledger", str(ledger)]) == 0
    assert main(["check", QR, str(three), "--variant", "qr", "--ledger", str(ledger)]) == 0
    capsys.readouterr()
    assert main(["check", QR, str(three), "--variant", "chat", "--ledger", str(ledger)]) == 1
    assert f"variant 'chat') as the test of another hypothesis, '{LIVE_CHAT_TITLE}'" in capsys.readouterr().err


def test_another_prediction_of_the_same_hypothesis_is_accepted(ledger, tmp_path, capsys):
    # A re-saved prediction (another engine, seed or draws) of the same hypothesis tests the same thing.
    text = (EXPERIMENTS / "live-chat.prediction.json").read_text(encoding="utf-8")
    again = tmp_path / "live-chat.again.prediction.json"
    again.write_text(text.replace('"seed": 2026', '"seed": 7'), encoding="utf-8")
    assert again.read_text(encoding="utf-8") != text
    results = tmp_path / "ab.csv"
    shutil.copy(EXPERIMENTS / "live-chat.aggregated.csv", results)
    assert main(["check", str(again), str(results), "--ledger", str(ledger)]) == 0
