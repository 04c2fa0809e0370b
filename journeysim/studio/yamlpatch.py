"""Saving an edited map into its own text: only the values that changed are rewritten.

ruamel.yaml composes the original text (it keeps every node's position), the old and
new documents are compared, and each changed scalar, added key or removed key becomes
one splice of the text. Everything else (comments, key order, the spaces that align a
column, quoting, flow or block style) stays byte for byte. The result is parsed again
and must equal the new document; when a splice cannot be made (an anchor, a key order
the composer does not match...) ruamel.yaml's own round trip writes the file instead,
which keeps comments and order but may re-indent, and the caller is told which was used.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from journeysim._files import parse_document
from journeysim.errors import OutputError

__all__ = ["update_text", "flow_yaml", "same_document"]

_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_PLAIN = re.compile(r"(?:[^\W\d_]|\.\.?/)[\w .'/&()+.\-]*", re.UNICODE)


class _CannotSplice(Exception):
    """The text's shape is one the splicer does not handle; the round trip is used."""


def same_document(a: Any, b: Any) -> bool:
    """Equal as documents: ``true`` is not ``1``, ``1`` is ``1.0``, mapping order does not matter.

    Examples
    --------
    >>> same_document({"a": [1, True]}, {"a": [1.0, True]}), same_document({"a": 1}, {"a": True})
    (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_document(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_document(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _quoted(text: str) -> str:
    """Double-quoted, with the characters YAML may not hold raw (DEL, C1 controls...) escaped."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _string(text: str) -> str:
    """A plain scalar where it reads back as the same text, else a double-quoted one."""
    if _PLAIN.fullmatch(text) and not text.endswith(" "):
        data, problems = parse_document(f"k: {text}", "<text>")
        if not problems and data == {"k": text}:
            return text
    return _quoted(text)


def flow_yaml(value: Any) -> str:
    """``value`` in YAML's flow style, on one line.

    Examples
    --------
    >>> flow_yaml({"from": "cart", "to": "product page", "p": 0.7, "yes": "no", "x": [1, None, True]})
    '{from: cart, to: product page, p: 0.7, "yes": "no", x: [1, null, true]}'
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{flow_yaml(k) if not isinstance(k, str) else _string(k)}: {flow_yaml(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_yaml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} in a map file")


class _Splicer:
    def __init__(self, text: str, as_json: bool):
        self.text = text
        self.as_json = as_json
        self.edits: list[tuple[int, int, str]] = []

    def flow(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=True) if self.as_json else flow_yaml(value)

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Just past the newline ending the line of ``index - 1`` (the node's last character)."""
        end = self.text.find("\n", max(index - 1, 0))
        return len(self.text) if end < 0 else end + 1

    def pair_end(self, value: Node) -> int:
        end = value.end_mark.index
        if isinstance(value, (MappingNode, SequenceNode)) and not value.flow_style:
            return end                                   # a block collection already ends at a line start
        return self.line_end(end)

    def replace(self, node: Node, value: Any) -> None:
        start, end = node.start_mark.index, node.end_mark.index
        piece = self.flow(value)
        if start == end:                                 # an empty value (`key:` with nothing)
            piece = " " + piece
        elif self.text[start:end].endswith("\n"):
            piece += "\n"
        self.edits.append((start, end, piece))

    def diff(self, node: Node, old: Any, new: Any) -> None:
        if same_document(old, new):
            return
        if isinstance(node, MappingNode) and isinstance(old, Mapping) and isinstance(new, Mapping) and new:
            self.mapping(node, old, new)
        elif (isinstance(node, SequenceNode) and isinstance(old, list) and isinstance(new, list)
              and len(old) == len(new)):
            for item, a, b in zip(node.value, old, new):
                self.diff(item, a, b)
        else:
            self.replace(node, new)

    def mapping(self, node: MappingNode, old: Mapping, new: Mapping) -> None:
        if len(node.value) != len(old) or any(not isinstance(k, ScalarNode) for k, _ in node.value):
            raise _CannotSplice("merge keys or complex keys")
        pairs = dict(zip(old, node.value))
        for key, (key_node, value_node) in pairs.items():
            if key_node.value != str(key) and not isinstance(key, (int, float, bool)):
                raise _CannotSplice("key order")
            if key in new:
                self.diff(value_node, old[key], new[key])
            else:
                self.remove(node, key_node, value_node)
        added = [k for k in new if k not in old]
        if added:
            self.insert(node, {k: new[k] for k in added})

    def remove(self, node: MappingNode, key: Node, value: Node) -> None:
        start, end = key.start_mark.index, value.end_mark.index
        if not node.flow_style:
            begin = self.line_start(start)
            if self.text[begin:start].strip():
                raise _CannotSplice("a key that does not start its line")
            self.edits.append((begin, self.pair_end(value), ""))
            return
        after = self.text[end:]
        comma = re.match(r"[ \t]*,[ \t]*(?!#)", after)
        if comma:                                        # `a: 1, ` goes with its comma; a comment after it stays
            self.edits.append((start, end + comma.end(), ""))
            return
        before = re.search(r",[ \t\r\n]*\Z", self.text[:start])
        if before is None:
            raise _CannotSplice("a flow mapping's only entry")
        self.edits.append((before.start(), end, ""))

    def insert(self, node: MappingNode, items: Mapping) -> None:
        def pair(k, v):
            key = json.dumps(k, ensure_ascii=True) if self.as_json else flow_yaml(k)
            return f"{key}: {self.flow(v)}"

        if node.flow_style:
            if node.value:
                at = node.value[-1][1].end_mark.index
                self.edits.append((at, at, "".join(", " + pair(k, v) for k, v in items.items())))
            else:
                close = node.end_mark.index - 1
                if self.text[close] != "}":
                    raise _CannotSplice("an empty flow mapping without its brace")
                self.edits.append((close, close, ", ".join(pair(k, v) for k, v in items.items())))
            return
        first = node.value[0][0].start_mark.index
        indent = self.text[self.line_start(first):first]
        if indent.strip():
            raise _CannotSplice("a block mapping inside a sequence entry")
        at = self.pair_end(node.value[-1][1])
        lead = "" if at == 0 or self.text[at - 1] == "\n" else "\n"
        self.edits.append((at, at, lead + "".join(f"{indent}{pair(k, v)}\n" for k, v in items.items())))

    def result(self) -> str:
        text = self.text
        for start, end, piece in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + piece + text[end:]
        return text


def _splice(text: str, old: Any, new: Any, as_json: bool) -> str:
    root = YAML(typ="rt").compose(text)
    splicer = _Splicer(text, as_json)
    splicer.diff(root, old, new)
    return splicer.result()


def _update(target: Any, new: Any) -> Any:
    """``target`` (ruamel's round-trip containers) changed in place to ``new`` where it differs."""
    if isinstance(target, Mapping) and isinstance(new, Mapping):
        for key in [k for k in target if k not in new]:
            del target[key]
        for key, value in new.items():
            if key in target and not same_document(target[key], value):
                target[key] = _update(target[key], value)
            elif key not in target:
                target[key] = value
        return target
    if isinstance(target, list) and isinstance(new, list) and len(target) == len(new):
        for i, value in enumerate(new):
            if not same_document(target[i], value):
                target[i] = _update(target[i], value)
        return target
    return new


def _round_trip(text: str, new: Any) -> str:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = _update(yaml.load(text), new)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def update_text(text: str, new: Any, *, source: str, as_json: bool = False) -> tuple[str, str]:
    """The file's text with the document changed to ``new``; and ``"spliced"`` or ``"round trip"``.

    Raises :class:`~journeysim.errors.OutputError` when neither way reproduces ``new``
    exactly (nothing is written then).

    Examples
    --------
    >>> text = "# my map\\nentry:   {ad: 1}   # all from ads\\nrows:\\n  ad: {buy: 0.2}  # checked\\n"
    >>> new = {"entry": {"ad": 1}, "rows": {"ad": {"buy": 0.25, "page": 0.1}}}
    >>> print(update_text(text, new, source="m.yaml")[0], end="")
    # my map
    entry:   {ad: 1}   # all from ads
    rows:
      ad: {buy: 0.25, page: 0.1}  # checked
    """
    old, problems = parse_document(text, source, as_json=as_json)
    if problems:
        raise OutputError(problems)
    attempts = (("spliced", lambda: _splice(text, old, new, as_json)),) + (
        () if as_json else (("round trip", lambda: _round_trip(text, new)),))
    for how, attempt in attempts:
        try:
            out = attempt()
        except _CannotSplice:
            continue
        back, problems = parse_document(out, source, as_json=as_json)
        if not problems and same_document(back, new):
            return out, how
    if as_json:
        return json.dumps(new, ensure_ascii=False, indent=2) + "\n", "rewritten"
    # Say whether the edited document itself would be refused (two keys that differ only by invisible characters,
    # say) before blaming the file's layout.
    _, refused = parse_document(json.dumps(new, ensure_ascii=False), source, as_json=True)
    if refused:
        raise OutputError(f"the edits would not read back: {refused[0]}; nothing was written")
    raise OutputError(f"{source}: cannot write the edits into the file's own text (its layout is one the studio "
                      "cannot splice into); nothing was written")
