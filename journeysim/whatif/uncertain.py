"""Uncertain numbers in hypothesis files: ranges and distributions, and where they sit.

Any number of a hypothesis may be written as a range ``[low, high]`` (uniform
between the bounds) or as a distribution ``{dist: beta|normal|lognormal|uniform,
...}``. Each is addressed by its *path* in the file, e.g. ``changes[0].to.purchase``;
a key that contains ``.``, ``[`` or ``]`` is written ``["key"]``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats

from journeysim.errors import excerpt

__all__ = ["Uncertain", "DISTRIBUTIONS", "DIRICHLET_PRIOR", "is_uncertain_spec", "parse_uncertain", "format_path", "parse_path", "get_path", "set_path"]

#: Pseudo-count per outcome of an observed row's Dirichlet posterior (Jeffreys' prior): an outcome never
#: observed keeps a small share, so it stays possible.
DIRICHLET_PRIOR = 0.5

#: Distribution names and the keys each one takes.
DISTRIBUTIONS = {
    "uniform": ("low", "high"),
    "beta": ("a", "b"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
}


@dataclass(frozen=True)
class Uncertain:
    """One uncertain number: its distribution and parameters (``lognormal`` takes the variable's own mean and sd).

    Examples
    --------
    >>> u = Uncertain("uniform", (0.4, 0.6))
    >>> u.support, round(u.median, 6)
    ((0.4, 0.6), 0.5)
    >>> u.draw(3, rng=np.random.default_rng(1)).round(3)
    array([0.502, 0.59 , 0.429])
    """

    dist: str
    params: tuple[float, ...]

    @cached_property
    def frozen(self):
        """The scipy.stats distribution."""
        if self.dist == "uniform":
            low, high = self.params
            return stats.uniform(loc=low, scale=high - low)
        if self.dist == "beta":
            return stats.beta(*self.params)
        if self.dist == "normal":
            return stats.norm(*self.params)
        mean, sd = self.params
        sigma2 = math.log1p((sd / mean) ** 2)
        return stats.lognorm(s=math.sqrt(sigma2), scale=mean * math.exp(-sigma2 / 2))

    @property
    def support(self) -> tuple[float, float]:
        low, high = self.frozen.support()
        return float(low), float(high)

    @property
    def median(self) -> float:
        return float(self.frozen.median())

    def draw(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent draws."""
        return np.asarray(self.frozen.rvs(size=n, random_state=rng), dtype=float)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_uncertain_spec(value: Any) -> bool:
    """A range ``[low, high]`` or a mapping naming one of :data:`DISTRIBUTIONS`.

    Examples
    --------
    >>> is_uncertain_spec([0.1, 0.2]), is_uncertain_spec({"dist": "beta", "a": 1, "b": 2}), is_uncertain_spec(0.5)
    (True, True, False)
    """
    if isinstance(value, list):
        return True
    return isinstance(value, Mapping) and value.get("dist") in DISTRIBUTIONS


def parse_uncertain(value: Any) -> Uncertain:
    """Parse a range or distribution; raise ``ValueError`` saying what is wrong.

    Examples
    --------
    >>> parse_uncertain([0.4, 0.6])
    Uncertain(dist='uniform', params=(0.4, 0.6))
    >>> parse_uncertain({"dist": "beta", "a": 20, "b": 30})
    Uncertain(dist='beta', params=(20.0, 30.0))
    >>> parse_uncertain([0.6, 0.4])
    Traceback (most recent call last):
    ...
    ValueError: range [0.6, 0.4] has low > high
    """
    if isinstance(value, list):
        if len(value) != 2 or not all(_finite(v) for v in value):
            raise ValueError(f"a range must be [low, high] with two numbers, not {excerpt(value)}")
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"range [{value[0]}, {value[1]}] has low > high")
        if low == high:
            raise ValueError(f"range [{value[0]}, {value[1]}] has no width (write the number {value[0]} "
                             "for a value that is known)")
        return Uncertain("uniform", (low, high))
    dist = value["dist"]
    keys = DISTRIBUTIONS[dist]
    unknown = [k for k in value if k not in ("dist", *keys)]
    if unknown:
        raise ValueError(f"{dist} distribution: unknown key {excerpt(unknown[0])} (allowed: {', '.join(keys)})")
    missing = [k for k in keys if k not in value]
    if missing:
        raise ValueError(f"{dist} distribution needs {' and '.join(keys)}")
    params = []
    for k in keys:
        if not _finite(value[k]):
            raise ValueError(f"{dist} distribution: {k} {excerpt(value[k])} is not a number")
        params.append(float(value[k]))
    if dist == "uniform" and params[0] >= params[1]:
        raise ValueError(f"uniform distribution has low {params[0]:g} >= high {params[1]:g} (write the number "
                         "itself for a value that is known)")
    if dist == "beta" and min(params) <= 0:
        raise ValueError("beta distribution needs a > 0 and b > 0")
    if dist in ("normal", "lognormal") and params[1] <= 0:
        raise ValueError(f"{dist} distribution needs sd > 0 (write the number itself for a value that is known)")
    if dist == "lognormal" and params[0] <= 0:
        raise ValueError("lognormal distribution needs mean > 0")
    return Uncertain(dist, tuple(params))


_PLAIN_KEY = re.compile(r"^[^.\[\]\"]+$")
_TOKEN = re.compile(r'\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.\[\]]+)')


def format_path(parts: tuple) -> str:
    """``("changes", 0, "to", "purchase")`` -> ``changes[0].to.purchase``.

    Examples
    --------
    >>> format_path(("changes", 2, "from", "e.shop"))
    'changes[2].from["e.shop"]'
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def parse_path(path: str) -> tuple:
    """The inverse of :func:`format_path`.

    Examples
    --------
    >>> parse_path('changes[0].from.cart'), parse_path('changes[2].from["e.shop"]')
    (('changes', 0, 'from', 'cart'), ('changes', 2, 'from', 'e.shop'))
    """
    parts: list = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read path {excerpt(path)} at position {pos}")
        index, quoted, plain = m.groups()
        parts.append(int(index) if index is not None else json.loads(quoted) if quoted is not None else plain)
        pos = m.end()
    return tuple(parts)


def get_path(data: Any, parts: tuple) -> Any:
    """The value at ``parts`` in nested dicts and lists; ``KeyError`` when absent.

    Examples
    --------
    >>> get_path({"changes": [{"from": {"cart": 0.15}}]}, ("changes", 0, "from", "cart"))
    0.15
    """
    for part in parts:
        if isinstance(part, int):
            if not isinstance(data, list) or not -len(data) <= part < len(data):
                raise KeyError(part)
        elif not isinstance(data, Mapping) or part not in data:
            raise KeyError(part)
        data = data[part]
    return data


def set_path(data: Any, parts: tuple, value: Any) -> Any:
    """A copy of ``data`` with the value at ``parts`` replaced (the value must exist).

    Examples
    --------
    >>> data = {"changes": [{"from": {"cart": 0.15}}]}
    >>> set_path(data, ("changes", 0, "from", "cart"), 0.05), data
    ({'changes': [{'from': {'cart': 0.05}}]}, {'changes': [{'from': {'cart': 0.15}}]})
    """
    if not parts:
        return value
    get_path(data, parts[:1])
    head, rest = parts[0], parts[1:]
    copy = list(data) if isinstance(data, list) else dict(data)
    copy[head] = set_path(data[head], rest, value)
    return copy
