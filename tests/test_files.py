"""Atomic writes, writability checked before the work, reads recorded by content, named files named."""

import os
from pathlib import Path

import pytest

from journeysim._files import (
    check_folder_writable,
    check_writable,
    read_document,
    recording_reads,
    write_atomic,
)
from journeysim._hash import file_sha256
from journeysim.errors import MapError, OutputError, ScenarioError
from journeysim.maps.read import load_journey
from journeysim.whatif.hypothesis import load_hypothesis

MAP = """\
entry: {ad: 1}
touchpoints: {ad: {}, buy: {goal: true}}
transitions: {ad: {buy: 0.1}}
"""


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores permissions: then a read-only system folder)."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    for folder in (Path("/sys"), Path("/proc/sys")):
        try:
            check_folder_writable(folder)
        except OutputError:
            return folder
    pytest.skip("no read-only folder to write into")


def test_unwritable_outputs_are_refused_in_one_line(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "link.json").symlink_to(outside)
    cases = {
        tmp_path / "missing" / "x.json": "folder '{tmp}/missing' does not exist",
        out: "it is a folder (give a file name)",
        outside / "x.json": "folder '{tmp}/outside.txt' is a file, not a folder",
        out / "link.json": "it is a symbolic link to '{tmp}/outside.txt', outside folder '{tmp}/out' (remove the link or write elsewhere)",
    }
    for path, message in cases.items():
        with pytest.raises(OutputError) as info:
            check_writable(path)
        assert str(info.value) == f"{path}: cannot write: {message.format(tmp=tmp_path)}"
        with pytest.raises(OutputError):
            write_atomic(path, "new")
    assert outside.read_text() == "keep"
    ro = _read_only_folder(tmp_path)
    with pytest.raises(OutputError, match="cannot write: permission denied in folder"):
        check_writable(ro / "x.json")
    with pytest.raises(OutputError, match="cannot create the folder: permission denied"):
        check_folder_writable(ro / "results" / "deeper")
    check_folder_writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()                 # checking creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside.txt"] + (["ro"] if ro.parent == tmp_path else [])


def test_a_link_inside_its_folder_is_written_through(tmp_path):
    (tmp_path / "v2.json").write_text("old", encoding="utf-8")
    (tmp_path / "latest.json").symlink_to("v2.json")
    write_atomic(tmp_path / "latest.json", "new")
    assert (tmp_path / "latest.json").is_symlink() and (tmp_path / "v2.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "v2.json"]


def test_reads_are_recorded_with_the_hash_of_the_bytes_parsed(tmp_path):
    (tmp_path / "map.yaml").write_text(MAP + "observations: counts.yaml\n", encoding="utf-8")
    (tmp_path / "counts.yaml").write_text("{ad: 1000, entry: 1000}\n", encoding="utf-8")
    (tmp_path / "h.yaml").write_text("baseline: map.yaml\nchanges: [{scale: {from: ad, to: buy, by: 2}}]\n",
                                     encoding="utf-8")
    with recording_reads() as outer:
        with recording_reads() as inner:
            hyp = load_hypothesis(tmp_path / "h.yaml")
        read_document(tmp_path / "nowhere.yaml")       # a file that is not there is not an input
    files = [str(tmp_path / n) for n in ("h.yaml", "map.yaml", "counts.yaml")]
    assert list(inner) == files and list(outer) == files
    assert all(outer[f] == file_sha256(f) for f in files)
    assert dict(hyp.baseline.observations) == {"ad": 1000.0, "entry": 1000.0}


def test_files_named_inside_files_say_where_they_were_named(tmp_path):
    (tmp_path / "journeysim.toml").write_text("", encoding="utf-8")       # the project: files may name ../x.yaml
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "live-chat.yaml").write_text("baseline: ../x.yaml\nchanges: [{scale: {from: a, to: b, by: 2}}]\n",
                                                   encoding="utf-8")
    with pytest.raises(MapError) as info:
        load_hypothesis(tmp_path / "h" / "live-chat.yaml")
    assert str(info.value) == f"hypothesis {tmp_path / 'h' / 'live-chat.yaml'} names baseline ../x.yaml: no such file"
    (tmp_path / "map.yaml").write_text(MAP + "observations: counts/2026.yaml\n", encoding="utf-8")
    with pytest.raises(MapError) as info:
        load_journey(tmp_path / "map.yaml")
    assert str(info.value) == f"map {tmp_path / 'map.yaml'} names observations counts/2026.yaml: no such file"
    (tmp_path / "counts").mkdir()
    (tmp_path / "counts" / "2026.yaml").write_text("{ad: 10, cart: 5}\n", encoding="utf-8")
    with pytest.raises(MapError, match=r"map.yaml: observations \(counts/2026.yaml\): unknown touchpoint 'cart'"):
        load_journey(tmp_path / "map.yaml")
    plan = tmp_path / "plan.yaml"
    plan.write_text("hypotheses: [h/nope.yaml]\n", encoding="utf-8")
    from journeysim.whatif.plan import load_plan

    with pytest.raises(ScenarioError) as info:
        load_plan(plan)
    assert str(info.value) == f"plan {plan} names hypothesis h/nope.yaml: no such file"


@pytest.mark.parametrize("argv", [
    ["predict", "{tmp}/nope.yaml", "--save", "{out}"],
    ["fit", "{tmp}/nope.csv", "-o", "{out}"],
    ["calibrate", "{tmp}/nope.json", "{tmp}/nope.csv", "-o", "{out}"],
    ["export", "{tmp}/nope.yaml", "--to", "mermaid", "-o", "{out}"],
    ["import", "{tmp}/nope.graphml", "-o", "{out}"],
    ["check", "{tmp}/nope.json", "{tmp}/nope.csv", "--ledger", "{out}"],
    ["ledger", "{tmp}/nope.csv", "--plot", "{out}"],
    ["run", "{tmp}/nope.yaml", "-o", "{out}"],
    ["report", "simulate", "{tmp}/nope.yaml", "-o", "{out}"],
])
def test_every_output_is_checked_before_any_input_is_read(tmp_path, capsys, argv):
    from journeysim.cli import main

    (tmp_path / "file").write_text("", encoding="utf-8")
    out = tmp_path / "file" / "out"                  # its folder is a file: nothing can be written there
    code = main([a.format(tmp=tmp_path, out=out) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code in (1, 2) and len(err.splitlines()) == 1, err
    assert str(out) in err and "nope" not in err            # the output is named: the inputs were never opened
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
