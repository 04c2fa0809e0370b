"""Saving into a file's own text: only changed values move; comments and alignment stay byte for byte."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim._files import parse_document
from journeysim.errors import OutputError
from journeysim.studio.yamlpatch import flow_yaml, same_document, update_text

TEXT = """\
# A map with comments everywhere
name: Shop            # the shop
stages: [see, buy]
entry:
  ad: 1
touchpoints:
  ad:     {stage: see, channel: paid}   # aligned
  page:   {stage: see}
  buy:    {stage: buy, goal: true, value: 40}
transitions:
  ad:     {page: 0.5}   # half click
  page:                 # a block row
    buy: 0.2
    ad: 0.1             # back to the ad
"""


def splice(new, text=TEXT, as_json=False):
    out, how = update_text(text, new, source="m.yaml", as_json=as_json)
    back, problems = parse_document(out, "m.yaml", as_json=as_json)
    assert problems == [] and same_document(back, new)
    return out, how


def base():
    return parse_document(TEXT, "m.yaml")[0]


def changed_lines(before, after):
    a, b = before.splitlines(), after.splitlines()
    return [x for x in a if x not in b], [y for y in b if y not in a]


def test_a_changed_number_rewrites_only_that_number():
    new = base()
    new["transitions"]["page"]["buy"] = 0.25
    out, how = splice(new)
    assert how == "spliced" and out == TEXT.replace("    buy: 0.2\n", "    buy: 0.25\n")


def test_keys_removed_and_added_in_flow_and_block_mappings():
    new = base()
    del new["transitions"]["page"]["ad"]                       # block: the line (and its comment) goes
    new["transitions"]["ad"]["buy"] = 0.1                      # flow: appended inside the braces
    del new["touchpoints"]["ad"]["channel"]                    # flow: the last entry, with its comma
    new["touchpoints"]["chat"] = {"stage": "buy", "delay": 0.02}
    out, how = splice(new)
    assert how == "spliced"
    removed, added = changed_lines(TEXT, out)
    assert removed == ["  ad:     {stage: see, channel: paid}   # aligned", "  ad:     {page: 0.5}   # half click",
                       "    ad: 0.1             # back to the ad"]
    assert added == ["  ad:     {stage: see}   # aligned", "  chat: {stage: buy, delay: 0.02}",
                     "  ad:     {page: 0.5, buy: 0.1}   # half click"]


def test_first_flow_entry_removed_keeps_what_follows():
    new = base()
    del new["touchpoints"]["buy"]["stage"]
    out, _ = splice(new)
    assert "  buy:    {goal: true, value: 40}\n" in out


def test_values_changing_type_and_unusual_names():
    new = base()
    new["transitions"]["ad"]["page"] = {"p": 0.5, "delay": 2}
    new["touchpoints"]["yes"] = {"channel": "a: b, #c"}
    new["transitions"]["page"]["yes"] = 0.05
    out, _ = splice(new)
    assert '"yes": {channel: "a: b, #c"}' in out and "  ad:     {page: {p: 0.5, delay: 2}}   # half click" in out


def test_json_files_stay_json():
    text = json.dumps(base(), indent=2) + "\n"
    new = base()
    new["transitions"]["page"]["buy"] = 0.3
    new["touchpoints"]["new"] = {}
    out, how = splice(new, text, as_json=True)
    assert how == "spliced" and json.loads(out) == new


def test_a_shape_the_splicer_cannot_cut_falls_back_to_the_round_trip():
    text = "campaigns:   # agents\n  - name: mail\n    p: 0.1\n"
    out, how = splice({"campaigns": [{"p": 0.2}]}, text)
    assert how == "round trip" and "# agents" in out


def test_what_cannot_be_written_exactly_is_not_written():
    # An alias shares its anchor's value: changing one copy alone has no faithful text.
    with pytest.raises(OutputError, match="nothing was written"):
        update_text("a: &x {b: 1}\nc: *x\n", {"a": {"b": 2}, "c": {"b": 1}}, source="m.yaml")
    with pytest.raises(OutputError, match="m.yaml: line 2: invalid YAML"):
        update_text("a: [\n", {}, source="m.yaml")


def test_edits_the_reader_would_refuse_are_named_not_blamed_on_the_layout():
    # it said "its layout is one the studio cannot splice into"
    with pytest.raises(OutputError, match=r"^the edits would not read back: m.yaml: keys ' ' and '\\x1f' differ only "
                                          r"by invisible characters.*; nothing was written$"):
        update_text("a: 1\n", {"a": 1, " ": 2, "\x1f": 3}, source="m.yaml")


plain = st.one_of(st.integers(-5, 5), st.floats(0, 1), st.booleans(), st.none(),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8))


@settings(max_examples=15)
@given(st.dictionaries(st.text(min_size=1, max_size=6), st.dictionaries(st.text(min_size=1, max_size=6), plain,
                                                                          max_size=4), max_size=4))
def test_any_new_document_is_written_exactly(new):
    # Whatever the edits, the file reads back as the new document, or nothing is written: a document the reader
    # itself refuses (keys ' ' and '\x1f', which differ only by invisible characters) is never written.
    new = new or {"k": 1}
    if parse_document(json.dumps(new), "m.json", as_json=True)[1]:
        with pytest.raises(OutputError, match="nothing was written"):
            update_text(TEXT, new, source="m.yaml")
        return
    out, _ = update_text(TEXT, new, source="m.yaml")
    assert same_document(parse_document(out, "m.yaml")[0], new)


def test_flow_yaml_quotes_what_would_read_back_otherwise():
    assert flow_yaml(["true", "1.5", "null", "a #b", "ok name", "", "x: y", ".5", "\x7f"]) == \
        '["true", "1.5", "null", "a #b", ok name, "", "x: y", ".5", "\\u007f"]'
