"""Finding 3: ``validate`` of a random 10,000-touchpoint map took 500 s (``nx.ancestors`` once per touchpoint) and
2,000 unknown names took 12.6 s in the "did you mean" hints. The checks now take one search and one strongly
connected components pass; the hints an index. Asserted by counting work (Python function calls, which grow
linearly with the map when the checks are linear), never by timing; ``benchmarks/validate.py`` prints the times."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from journeysim.errors import MapError, NameIndex, did_you_mean
from journeysim.maps.checks import trapped_touchpoints
from journeysim.maps.read import check_map, read_journey

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from validate import random_map  # noqa: E402  (the benchmark's maps, so that the test checks what it measures)


def calls(fn) -> int:
    """Python function calls made by ``fn()``: a measure of work that does not depend on the machine's load."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def write(tmp_path: Path, data: dict, name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_validate_work_grows_linearly_with_the_map(tmp_path):
    rng = np.random.default_rng(3)
    small, large = (write(tmp_path, random_map(n, 5, rng), f"{n}.json") for n in (1_000, 4_000))
    assert check_map(small).ok and check_map(large).ok
    ratio = calls(lambda: check_map(large)) / calls(lambda: check_map(small))
    assert ratio < 4.6, ratio            # 4x the touchpoints: 4x the work (quadratic checks: 16x)


def test_trapped_groups_are_found_in_one_pass():
    # A chain of 3,000 loops, each draining into the next: only the last loop is closed.
    n = 3_000
    rows = {f"a{i}": {f"b{i}": 0.5, f"a{i + 1}": 0.5} for i in range(n)} | {f"b{i}": {f"a{i}": 1.0} for i in range(n)}
    rows[f"a{n}"] = {f"b{n}": 1.0}
    rows[f"b{n}"] = {f"a{n}": 1.0}
    data = {"entry": {"a0": 1.0}, "touchpoints": {k: {} for k in rows} | {"buy": {"goal": True}},
            "transitions": rows | {"a0": {"b0": 0.4, "a1": 0.5, "buy": 0.1}}}
    with pytest.raises(MapError, match=r"touchpoints 'a3000', 'b3000': customers who reach them never leave"):
        read_journey(data)
    journey = read_journey({**data, "transitions": {**data["transitions"], f"b{n}": {f"a{n}": 0.9}}})
    assert trapped_touchpoints(journey) == []


def test_hints_for_2000_unknown_names_compare_each_with_a_few_known_ones(tmp_path):
    data = random_map(4_000, 5, np.random.default_rng(4))
    names = list(data["touchpoints"])
    for i in range(2_000):
        data["transitions"][names[i]] = {f"touchpont {2 * i}": 0.1}      # a typo of 'touchpoint {2i}'
    path = write(tmp_path, data, "typos.json")
    errors = check_map(path).errors
    assert len(errors) == 2_000
    assert errors[7].endswith("unknown touchpoint 'touchpont 14' (did you mean 'touchpoint 14'?)")
    index = NameIndex(names)
    one = calls(lambda: did_you_mean("touchpont 14", index))
    assert one < 2_000, one               # a pairwise loop over 4,000 names makes at least 4,000 calls


def test_the_index_finds_what_difflib_finds_on_small_lists():
    known = ["product page", "cart", "checkout", "purchase", "newsletter", "search ad"]
    for typo, expected in [("prodcut page", "product page"), ("chekout", "checkout"), ("cart ", "cart"),
                           ("purchse", "purchase"), ("zzz", None)]:
        assert NameIndex(known).closest(typo) == expected
