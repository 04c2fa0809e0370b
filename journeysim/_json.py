"""Results to JSON-ready values: read-only mappings become dicts, tuples become lists, all the way down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """``value`` with every mapping turned into a ``dict`` and every tuple or list into a ``list``.

    Results keep their tables in read-only mappings and tuples (they are frozen);
    ``to_dict()`` hands out plain, mutable copies that ``json.dumps`` accepts.

    Examples
    --------
    >>> from types import MappingProxyType
    >>> plain(MappingProxyType({"a": (1, MappingProxyType({"b": 2.0}))}))
    {'a': [1, {'b': 2.0}]}
    """
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value
