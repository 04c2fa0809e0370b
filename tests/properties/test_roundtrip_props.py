"""Every written map reads back to the same journey, whatever its names hold: control characters, U+0085 and
U+2028 (line breaks to YAML), text YAML would read as another type (``2e5``, ``yes``, ``null``, ``0x1F``), quotes,
look-alike characters (issue 19, finding 4)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from journeysim.errors import JourneySimError
from journeysim.maps.read import load_journey, read_journey, save_journey
from tests.properties.strategies import touchpoint_names

#: Any character but lone surrogates (which no file can hold): controls, separators, format characters included.
_ANY = st.characters(codec="utf-8")
#: Text that a YAML 1.1 or 1.2 reader takes for a number, a boolean, null or a date when written bare.
_TYPED = st.sampled_from(["2e5", "1e-3", "1_000", "0x1F", "0o17", "1:30", ".inf", "-.nan", "yes", "No", "on",
                          "null", "~", "2024-01-31", "1.0", "+1", "'a'", '"b"', "- x", "a: b", "#c", "&d", "*e", "!f",
                          "[1]", "{g}", "%h", "@i", "`j", "a\x85b", "a\u2028b", "\ufeffk", " l", "m ", "n\to"])


def _names(n):
    return st.one_of(touchpoint_names(n, _ANY), st.lists(_TYPED, min_size=n, max_size=n, unique=True).filter(
        lambda names: len({" ".join(x.split()) for x in names}) == n))


@st.composite
def maps(draw):
    n = draw(st.integers(2, 5))
    names = draw(_names(n))
    stage = draw(_names(1))[0]
    data = {"name": draw(st.text(_ANY, max_size=10)), "stages": [stage],
            "entry": {names[0]: 1.0},
            "touchpoints": {name: ({"goal": True, "stage": stage} if i == n - 1 else {"channel": names[-1 - i]})
                            for i, name in enumerate(names)},
            "transitions": {names[i]: {names[i + 1]: 0.5} for i in range(n - 1)}}
    try:
        return read_journey(data, "<drawn>")
    except JourneySimError:
        reject()


_TMP = Path(tempfile.mkdtemp(prefix="journeysim-roundtrip-"))


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@settings(max_examples=150, deadline=None, derandomize=True)
@given(journey=maps())
def test_a_written_map_reads_back_to_the_same_journey(suffix, journey):
    path = _TMP / f"map{suffix}"
    save_journey(journey, path)
    assert load_journey(path) == journey


@pytest.mark.parametrize("name", ["2e5", "1e-3", "yes", "null", "0x1F", "a\x85b", "a\u2028b", "exit?", "'q'"])
def test_the_reported_names(tmp_path, name):
    journey = read_journey({"entry": {name: 1.0}, "touchpoints": {name: {}, "buy": {"goal": True}},
                            "transitions": {name: {"buy": 0.5}}})
    save_journey(journey, tmp_path / "m.yaml")
    assert load_journey(tmp_path / "m.yaml").names == (name, "buy")
