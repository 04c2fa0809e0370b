"""The command line past the first purchase: simulate's new keys and tables, show's referrals, warnings."""

import json

import yaml

from journeysim.cli import main

from tests.conftest import SCENARIOS

NEW_KEYS = ("value_per_seed_customer", "conversions_per_seed_customer", "repeat_rate", "bounce_rate", "funnel",
            "discounted_value", "discounted_value_per_seed_customer", "removal_effects_value")
OLD_KEYS = ("conversion_rate", "expected_conversions", "expected_value", "expected_touches",
            "expected_time_to_conversion", "visit_rate", "stage_reach", "removal_effects", "referrals",
            "customers_per_seed", "engine")


def test_simulate_json_gains_the_keys_after_the_existing_ones(capsys):
    for engine in (["--engine", "exact"], ["--engine", "montecarlo", "--customers", "3000", "--seed", "1"]):
        assert main(["simulate", str(SCENARIOS / "b2b-hourglass.yaml"), *engine, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert tuple(data)[:len(OLD_KEYS) + len(NEW_KEYS)] == (*OLD_KEYS, *NEW_KEYS)
        assert data["removal_effects"]["onboarding"] == 0.0 and data["removal_effects_value"]["onboarding"] > 0.5
        funnel = list(data["funnel"].values())
        assert all(a >= b for a, b in zip(funnel, funnel[1:]))
        # The map discounts at 10% a year: every renewal is worth less than its face value.
        assert 0 < data["discounted_value"] < data["expected_value"]
        assert 0 < data["discounted_value_per_seed_customer"] < data["value_per_seed_customer"]


def test_simulate_tables_show_losses_never_negative_and_both_removal_effects(capsys):
    assert main(["simulate", str(SCENARIOS / "b2b-hourglass.yaml")]) == 0
    out = capsys.readouterr().out
    assert "this stage or later" in out and "on value per seed" in out and "repeat rate" in out
    funnel = out[out.index("funnel by stage"):out.index("top touchpoints")]
    assert "-0." not in funnel      # a customer who skips 'like' is still counted in it: no negative loss


def test_unbounded_referrals_warn_on_stderr_with_json(tmp_path, capsys):
    data = yaml.safe_load((SCENARIOS / "online-store.yaml").read_text(encoding="utf-8"))
    data["touchpoints"]["recommend"]["refers"] = 1000
    path = tmp_path / "viral.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["simulate", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["value_per_seed_customer"] is None
    assert captured.err.startswith("warning: referrals sustain themselves through 'recommend'")


def test_show_lists_referral_routes_and_the_discount(tmp_path, capsys):
    data = yaml.safe_load((SCENARIOS / "b2b-hourglass.yaml").read_text(encoding="utf-8"))
    data["touchpoints"]["reference call"]["refers"] = {"k": 0.6, "entry": {"sales call": 1.0}, "segment": "enterprise"}
    data["discount"] = {"rate": 0.1, "per": "year"}
    path = tmp_path / "routed.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "discount: value loses 10% of its worth per year" in out
    row = next(line for line in out.splitlines() if "reference call" in line and "enterprise" in line)
    assert "sales call" in row and "0.6000" in row
    assert main(["simulate", str(path)]) == 0
    assert "discounted value per seed customer" in capsys.readouterr().out
