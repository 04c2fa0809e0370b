"""Fuzzing the map reader: random YAML documents, random bytes and random Unicode names give a valid journey or a
:class:`~journeysim.errors.JourneySimError`, never another exception (issue 19). A fixed number of examples, drawn
deterministically, keeps CI fast and repeatable."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeysim.errors import JourneySimError
from journeysim.maps.read import load_journey, read_journey

_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_TMP = Path(tempfile.mkdtemp(prefix="journeysim-fuzz-"))
_KEYS = ["format", "name", "stages", "time_unit", "entry", "touchpoints", "transitions", "segments",
         "observations", "arrivals", "campaigns", "calibration", "stage", "channel", "delay", "goal", "value",
         "refers", "capacity", "patience", "budget", "cost", "p", "dist", "mean", "sd", "share", "social_proof",
         "fatigue", "rate", "per", "ad", "buy", "exit", "entry "]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.integers(-10, 10),
                     st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1), st.text(max_size=8),
                     st.sampled_from(_KEYS))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=6)), inner,
                                                 max_size=5)), max_leaves=30)


def _outcome(path: Path) -> None:
    """Reading either succeeds or fails with a JourneySimError (``load_journey`` is ``check_map``, then raising)."""
    try:
        load_journey(path)
    except JourneySimError as exc:
        assert exc.messages and all(m.startswith(str(path)) for m in exc.messages), exc.messages


@_SETTINGS
@given(document=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8))
def test_random_documents(document):
    path = _TMP / "doc.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    _outcome(path)
    path = _TMP / "doc.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    _outcome(path)


@_SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".yaml", ".json"]))
def test_random_bytes(data, suffix):
    path = _TMP / f"bytes{suffix}"
    path.write_bytes(data)
    _outcome(path)


_YAML_BITS = st.sampled_from(["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "? ", "!!str ", "!!int ",
                              "!!python/object ", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "<<: ", "|\n",
                              ">\n", "\t", "1e400", "9" * 350, ".inf", "0x", "entry", "touchpoints", "ad", "buy"])


@_SETTINGS
@given(pieces=st.lists(st.one_of(_YAML_BITS, st.text(max_size=5)), max_size=40))
def test_random_yaml_text(pieces):
    path = _TMP / "text.yaml"
    path.write_text("".join(pieces), encoding="utf-8", errors="surrogatepass")
    _outcome(path)


@_SETTINGS
@given(names=st.lists(st.text(st.characters(codec="utf-8"), max_size=6), min_size=1, max_size=4))
def test_random_unicode_names(names):
    data = {"entry": {names[0]: 1.0}, "touchpoints": {n: {} for n in names} | {"buy": {"goal": True}},
            "transitions": {n: {"buy": 0.5} for n in names}}
    try:
        read_journey(data)
    except JourneySimError:
        pass
    path = _TMP / "names.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _outcome(path)
