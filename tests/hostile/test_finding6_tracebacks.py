"""Finding 6: tracebacks instead of one-line errors: 400-digit integers (OverflowError), 5,000-digit ones
(ValueError from Python's digit limit), 100,000-deep nesting (RecursionError), a NUL byte (ReaderError),
``baseline: /dev/zero`` (7 GB, then MemoryError), ``baseline:`` a named pipe (hung), node-link import with a list
where a mapping belongs (TypeError)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from journeysim.cli import main
from tests.hostile.limited import one_line_error, run_limited

MAP = "entry: {{ad: 1}}\ntouchpoints: {{ad: {{}}, buy: {{goal: true}}}}\ntransitions: {{ad: {{buy: {p}}}}}\n"


@pytest.mark.parametrize("text, suffix, message", [
    (MAP.format(p="9" * 400), ".yaml", "line 3: an integer of 400 digits (at most 300)"),
    (MAP.format(p="9" * 5000), ".yaml", "line 3: an integer of 5000 digits (at most 300)"),
    (MAP.format(p="1e400"), ".yaml", "line 3: '1e400' is outside the range of a float (about ±1.8e308)"),
    ('{"entry": {"ad": 1}, "touchpoints": {"ad": {}}, "transitions": {"ad": {"buy": ' + "9" * 5000 + "}}}", ".json",
     "an integer of 5000 digits (at most 300)"),
    ("a: " + "[" * 100_000 + "]" * 100_000, ".yaml", "line 1: nested more than 64 levels deep"),
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", ".json", "nested more than 64 levels deep"),
    ("a: " + "{b: " * 70 + "1" + "}" * 70, ".yaml", "line 1: nested more than 64 levels deep"),
    ("entry: {ad: 1}\x00\n", ".yaml", "invalid YAML: unacceptable character #x0000: special characters are not allowed"),
])
def test_one_line_errors_for_extreme_documents(tmp_path, capsys, text, suffix, message):
    path = tmp_path / f"m{suffix}"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [f"error: {path}: {message}"], err[:500]


def test_a_baseline_that_is_a_device_or_a_named_pipe_is_refused_before_reading(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    os.mkfifo(tmp_path / "pipe.yaml")
    for name, baseline in (("zero", "/dev/zero"), ("pipe", "pipe.yaml")):
        (tmp_path / f"h-{name}.yaml").write_text(f"hypothesis: h\nbaseline: {baseline}\n"
                                               "changes: [{scale: {from: ad, to: buy, by: 1.1}}]\n", encoding="utf-8")
    commands = [["predict", "h-zero.yaml", "--draws", "10", "--allow-outside"],
                ["predict", "h-pipe.yaml", "--draws", "10"], ["predict", "h-zero.yaml", "--draws", "10"]]
    zero, pipe, confined = run_limited(commands, tmp_path, timeout=300)
    assert one_line_error(zero) == "hypothesis h-zero.yaml names baseline /dev/zero: is a device, not a file"
    assert one_line_error(pipe) == "hypothesis h-pipe.yaml names baseline pipe.yaml: is a named pipe, not a file"
    assert one_line_error(confined).startswith("h-zero.yaml: baseline: '/dev/zero' is outside")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(graph=["x"]), "not node-link JSON ('graph' must be an object, not list)"),
    (lambda d: d.update(nodes={"a": 1}), "not node-link JSON ('nodes' must be a list, not dict)"),
    (lambda d: d["nodes"].__setitem__(0, ["x"]), "not node-link JSON (nodes[0] must be an object with 'id', not ['x'])"),
    (lambda d: d["edges"].__setitem__(0, ["a", "b"]),
     "not node-link JSON (edges[0] must be an object with 'source' and 'target', not ['a', 'b'])"),
])
def test_node_link_import_with_a_list_where_a_mapping_belongs(tmp_path, capsys, change, message):
    exported = tmp_path / "map.json"
    assert main(["export", str(Path(__file__).resolve().parents[2] / "scenarios" / "online-store.yaml"), "--to", "json",
                 "-o", str(exported)]) == 0
    data = json.loads(exported.read_text(encoding="utf-8"))
    change(data)
    exported.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main(["import", str(exported), "-o", str(tmp_path / "back.yaml")]) == 1
    assert capsys.readouterr().err.strip() == f"{exported}: {message}"
    assert not (tmp_path / "back.yaml").exists()
