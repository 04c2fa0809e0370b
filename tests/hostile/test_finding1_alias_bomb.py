"""Finding 1: a 700-byte YAML alias bomb took unbounded memory in every command that reads a map (messages
formatted the value with ``{value!r}``, expanding every alias). Now the reader refuses aliases that repeat more
than 10,000 values, in one line, and messages show at most 80 characters of a value."""

from __future__ import annotations

import pytest

from journeysim._files import MAX_ALIAS_VALUES, parse_document
from journeysim.errors import EXCERPT_LENGTH, excerpt
from journeysim.maps.read import check_map
from tests.hostile.limited import one_line_error, run_limited

MAP = """format: 1
entry: {{ad: 1}}
{stages}touchpoints:
  ad: {ad}
  buy: {{goal: true}}
{key}transitions:
  ad: {{buy: {p}}}
"""


def bomb(levels: int = 9, width: int = 9) -> str:
    """Anchors ``a0..a8``, each a list of 9 aliases of the one before: 9**9 (387 million) values once expanded."""
    parts = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


PLACES = {
    "attributes": dict(stages="", ad="{channel: " + bomb() + "}", key="", p="0.1"),
    "stages": dict(stages="stages: " + bomb() + "\n", ad="{}", key="", p="0.1"),
    "probability": dict(stages="", ad="{}", key="", p=bomb()),
    "key": dict(stages="", ad="{}", key="  ? " + bomb() + "\n  : {}\n", p="0.1"),
}


def test_the_bomb_is_small():
    text = MAP.format(**PLACES["attributes"])
    assert len(text) < 800


@pytest.mark.parametrize("place", sorted(PLACES))
def test_refused_in_one_line_by_the_parser(place):
    data, problems = parse_document(MAP.format(**PLACES[place]), "bomb.yaml")
    assert data is None
    assert problems == [f"bomb.yaml: line {problems[0].split('line ')[1].split(':')[0]}: aliases repeat more than "
                        f"{MAX_ALIAS_VALUES:,} values (write the values out instead of repeating an anchor)"]


def test_every_command_that_reads_a_map_refuses_it_within_bounded_memory(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")          # the project: the hypothesis may name the map
    for place, fields in PLACES.items():
        (tmp_path / f"{place}.yaml").write_text(MAP.format(**fields), encoding="utf-8")
    (tmp_path / "hyp.yaml").write_text("hypothesis: h\nbaseline: attributes.yaml\n"
                                       "changes: [{scale: {from: ad, to: buy, by: 1.1}}]\n", encoding="utf-8")
    commands = [["validate", f"{place}.yaml"] for place in PLACES]
    commands += [["simulate", "attributes.yaml"], ["show", "stages.yaml"], ["export", "key.yaml", "--to", "dot"],
                 ["predict", "hyp.yaml", "--draws", "10"]]
    for argv, result in zip(commands, run_limited(commands, tmp_path)):
        line = one_line_error(result)
        assert "aliases repeat more than 10,000 values" in line, (argv, line)


def test_legitimate_anchors_still_read():
    text = ("d: &d {dist: gamma, mean: 2, sd: 1}\n"
            "touchpoints: {" + ", ".join(f"t{i}: {{delay: *d}}" for i in range(500)) + "}\n")
    data, problems = parse_document(text, "m.yaml")
    assert problems == [] and data["touchpoints"]["t499"]["delay"] == {"dist": "gamma", "mean": 2, "sd": 1}


def test_a_recursive_alias_is_refused():
    assert parse_document("a: &x [1, *x]", "m.yaml")[1] == [
        "m.yaml: line 1: alias *x is used inside its own anchor (recursive aliases are not allowed)"]


def test_messages_show_at_most_80_characters_of_a_value(tmp_path):
    shared = ["x" * 1000]
    for _ in range(60):                        # 2**60 strings, if a message expanded them
        shared = [shared, shared]
    for value in ("y" * 10**6, shared, {f"k{i}": i for i in range(10**5)}, 10**299, b"\x00" * 10**6):
        assert len(excerpt(value)) <= EXCERPT_LENGTH
    path = tmp_path / "long.yaml"
    path.write_text("entry: {ad: 1}\ntouchpoints: {ad: {}, buy: {goal: true}}\n"
                    f"transitions: {{ad: {{buy: '{'z' * 100_000}'}}}}\n", encoding="utf-8")
    [error] = check_map(path).errors
    assert error == f"{path}: touchpoint 'ad': edge to 'buy': '{'z' * 76}... is not a number"
