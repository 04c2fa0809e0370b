"""Uncertain numbers in hypothesis files: ranges and distributions, the rows they share, and where they sit.

Any number of a hypothesis may be written as a range ``[low, high]`` (uniform
between the bounds) or as a distribution ``{dist: beta|normal|lognormal|uniform,
...}``; where a probability goes, a normal or lognormal is truncated to [0, 1]. A
whole row may be one Dirichlet distribution, ``{dist: dirichlet, counts: {...}}``.
Each number is addressed by its *path* in the file, e.g. ``changes[0].to.purchase``;
a key that contains ``.``, ``[`` or ``]`` is written ``["key"]``.

Uncertain outcomes of one row are drawn jointly (:func:`draw_parameters`): a joint
draw whose row sums over 1 is redrawn, and :class:`UncertainRow` says how often that
happens.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from journeysim.errors import excerpt

__all__ = ["Uncertain", "UncertainRow", "DirichletRow", "DISTRIBUTIONS", "DIRICHLET_PRIOR", "MAX_ROW_EXCESS",
           "is_uncertain_spec", "is_dirichlet_spec", "parse_uncertain", "parse_dirichlet", "draw_parameters",
           "format_path", "parse_path", "get_path", "set_path"]

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
#: The largest share of joint draws in which a row's uncertain outcomes may sum over 1 (those draws are redrawn).
MAX_ROW_EXCESS = 0.01
#: Joint draws behind the share of a row with several uncertain outcomes (a fixed seed: reading a file is repeatable).
_EXCESS_DRAWS = 100_000


@dataclass(frozen=True)
class Uncertain:
    """One uncertain number: its distribution and parameters (``lognormal`` takes the variable's own mean and sd).

    ``bounds``, when given, truncates the distribution to that interval (a normal or
    lognormal where a probability goes is truncated to [0, 1]); draws then come from
    the distribution conditioned on the interval.

    Examples
    --------
    >>> u = Uncertain("uniform", (0.4, 0.6))
    >>> u.support, round(u.median, 6)
    ((0.4, 0.6), 0.5)
    >>> u.draw(3, rng=np.random.default_rng(1)).round(3)
    array([0.502, 0.59 , 0.429])
    >>> t = Uncertain("normal", (0.9, 0.1)).truncated(0.0, 1.0)
    >>> t.support, round(t.outside, 4), round(t.median, 4)       # 15.87% of the mass lay above 1
    ((0.0, 1.0), 0.1587, 0.88)
    """

    dist: str
    params: tuple[float, ...]
    bounds: tuple[float, float] | None = None

    def __repr__(self) -> str:
        bounds = "" if self.bounds is None else f", bounds={self.bounds!r}"
        return f"Uncertain(dist={self.dist!r}, params={self.params!r}{bounds})"

    @cached_property
    def frozen(self):
        """The scipy.stats distribution, before any truncation."""
        # scipy.stats takes a second to load: reading a hypothesis must not pay it (a refused output, a bad file)
        from scipy import stats

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

    def truncated(self, low: float, high: float) -> Uncertain:
        """This distribution conditioned on ``[low, high]`` (itself when its support lies inside)."""
        s_low, s_high = self.frozen.support()
        if s_low >= low and s_high <= high:
            return self
        return Uncertain(self.dist, self.params, (max(low, float(s_low)), min(high, float(s_high))))

    @cached_property
    def _cdf_bounds(self) -> tuple[float, float]:
        low, high = self.bounds
        return float(self.frozen.cdf(low)), float(self.frozen.cdf(high))

    @property
    def outside(self) -> float:
        """The share of the distribution's mass that the truncation cut off (0 without one)."""
        if self.bounds is None:
            return 0.0
        low, high = self.bounds
        return float(self.frozen.cdf(low) + self.frozen.sf(high))

    @property
    def support(self) -> tuple[float, float]:
        if self.bounds is not None:
            return self.bounds
        low, high = self.frozen.support()
        return float(low), float(high)

    @property
    def median(self) -> float:
        if self.bounds is None:
            return float(self.frozen.median())
        lo, hi = self._cdf_bounds
        return float(self.frozen.ppf((lo + hi) / 2))

    def sf(self, x: float) -> float:
        """P(X > x) (after the truncation)."""
        if self.bounds is None:
            return float(self.frozen.sf(x))
        lo, hi = self._cdf_bounds
        return float(np.clip((hi - max(lo, float(self.frozen.cdf(x)))) / (hi - lo), 0.0, 1.0))

    def describe(self) -> str:
        """The distribution as the file gives it, e.g. ``normal (mean 0.9, sd 0.1)``."""
        if self.dist == "uniform":
            return f"range [{self.params[0]:g}, {self.params[1]:g}]"
        names = DISTRIBUTIONS[self.dist]
        return f"{self.dist} ({', '.join(f'{k} {v:g}' for k, v in zip(names, self.params))})"

    def draw(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent draws (by inverse transform inside the truncation bounds)."""
        if self.bounds is None:
            return np.asarray(self.frozen.rvs(size=n, random_state=rng), dtype=float)
        lo, hi = self._cdf_bounds
        low, high = self.bounds
        return np.clip(self.frozen.ppf(rng.uniform(lo, hi, size=n)), low, high)


@dataclass(frozen=True)
class UncertainRow:
    """A row with uncertain outcomes: drawn jointly, they and the fixed outcomes must sum to at most 1.

    ``path`` is the row's path (``changes[0].to``), ``label`` names it in messages,
    ``members`` are the paths of its uncertain outcomes, ``fixed`` the total of the
    others, ``excess`` the probability that a joint draw sums over 1.
    """

    path: str
    label: str
    members: tuple[str, ...]
    fixed: float
    excess: float = 0.0

    def over(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which joint draws push the row over 1."""
        return self.fixed + sum(values[m] for m in self.members) > 1.0 + 1e-12

    def with_excess(self, parameters: Mapping[str, Uncertain]) -> UncertainRow:
        """This row with ``excess`` computed: exactly for one uncertain outcome, from 100,000 joint draws
        (fixed seed) for several.

        Examples
        --------
        >>> row = UncertainRow("changes[0].to", "the row of 'chat'", ("changes[0].to.buy",), 0.05)
        >>> round(row.with_excess({"changes[0].to.buy": Uncertain("uniform", (0.5, 0.96))}).excess, 6)  # 0.01/0.46
        0.021739
        """
        if len(self.members) == 1:
            excess = parameters[self.members[0]].sf(1.0 - self.fixed)
        else:
            rng = np.random.default_rng(0)
            excess = float(np.mean(self.over({m: parameters[m].draw(_EXCESS_DRAWS, rng=rng) for m in self.members})))
        return UncertainRow(self.path, self.label, self.members, self.fixed, excess)


@dataclass(frozen=True)
class DirichletRow:
    """A whole row drawn from one Dirichlet distribution: ``counts`` per outcome (``exit`` included).

    Examples
    --------
    >>> row = DirichletRow("changes[0].to", ("purchase", "exit"), (3.0, 17.0))
    >>> row.members, row.mean
    (('changes[0].to.purchase', 'changes[0].to.exit'), (0.15, 0.85))
    >>> row.marginal(0)
    Uncertain(dist='beta', params=(3.0, 17.0))
    """

    path: str
    outcomes: tuple[str, ...]
    counts: tuple[float, ...]

    @property
    def members(self) -> tuple[str, ...]:
        base = parse_path(self.path)
        return tuple(format_path((*base, o)) for o in self.outcomes)

    @property
    def mean(self) -> tuple[float, ...]:
        total = math.fsum(self.counts)
        return tuple(c / total for c in self.counts)

    def marginal(self, i: int) -> Uncertain:
        """The distribution of outcome ``i`` alone: Beta(count, total - count)."""
        return Uncertain("beta", (self.counts[i], math.fsum(self.counts) - self.counts[i]))

    def draw(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` joint draws, one row each."""
        return rng.dirichlet(self.counts, size=n)


def draw_parameters(parameters: Mapping[str, Uncertain], n: int, *, rng: np.random.Generator,
                    rows: Sequence[UncertainRow] = (),
                    joint: Sequence[DirichletRow] = ()) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """``n`` joint draws of every uncertain number; draws that push a row over 1 are redrawn.

    Returns the draws by path and, per row path, how many joint draws were redrawn.
    Each number is drawn on its own except a Dirichlet row's outcomes, drawn together.

    Examples
    --------
    >>> ps = {"to.buy": Uncertain("uniform", (0.5, 0.98)), "to.exit": Uncertain("uniform", (0.0, 0.04))}
    >>> row = UncertainRow("to", "the row", ("to.buy", "to.exit"), 0.0)
    >>> values, redrawn = draw_parameters(ps, 1000, rng=np.random.default_rng(2), rows=[row])
    >>> bool(np.all(values["to.buy"] + values["to.exit"] <= 1)), redrawn
    (True, {'to': 10})
    """
    members = {m: row for row in joint for m in row.members}
    values: dict[str, np.ndarray] = {}
    for path, u in parameters.items():
        if path in values:
            continue
        if path in members:
            drawn = members[path].draw(n, rng=rng)
            values.update({m: drawn[:, i] for i, m in enumerate(members[path].members)})
        else:
            values[path] = u.draw(n, rng=rng)
    redrawn = {}
    for row in rows:
        over = np.flatnonzero(row.over(values))
        redrawn[row.path] = len(over)
        for _ in range(1000):
            if not len(over):
                break
            fresh = {m: parameters[m].draw(len(over), rng=rng) for m in row.members}
            for m in row.members:
                values[m][over] = fresh[m]
            over = over[row.over(fresh)]
        else:
            raise ValueError(f"{row.label} ({row.path}): joint draws keep summing over 1")
    return values, redrawn


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


def is_dirichlet_spec(value: Any) -> bool:
    """A mapping ``{dist: dirichlet, ...}``: a whole row's distribution.

    Examples
    --------
    >>> is_dirichlet_spec({"dist": "dirichlet", "counts": {"buy": 3, "exit": 17}}), is_dirichlet_spec([0.1, 0.2])
    (True, False)
    """
    return isinstance(value, Mapping) and value.get("dist") == "dirichlet"


def parse_dirichlet(value: Mapping, path: str) -> DirichletRow:
    """Parse ``{dist: dirichlet, counts: {outcome: count, ...}}`` for the row at ``path``.

    Examples
    --------
    >>> parse_dirichlet({"dist": "dirichlet", "counts": {"purchase": 3, "exit": 17}}, "changes[0].to")
    DirichletRow(path='changes[0].to', outcomes=('purchase', 'exit'), counts=(3.0, 17.0))
    >>> parse_dirichlet({"dist": "dirichlet", "counts": {"purchase": 3, "exit": 0}}, "changes[0].to")
    Traceback (most recent call last):
    ...
    ValueError: dirichlet distribution: count 0 of 'exit' must be > 0 (leave out an outcome that never happens)
    """
    unknown = [k for k in value if k not in ("dist", "counts")]
    if unknown:
        raise ValueError(f"dirichlet distribution: unknown key {excerpt(unknown[0])} (allowed: counts)")
    counts = value.get("counts")
    if not isinstance(counts, Mapping) or len(counts) < 2:
        raise ValueError("dirichlet distribution needs 'counts': a mapping of at least two outcomes to counts, "
                         "e.g. {purchase: 3, exit: 17}")
    for name, count in counts.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"dirichlet distribution: outcome {excerpt(name)} is not a touchpoint's name")
        if not _finite(count) or count <= 0:
            raise ValueError(f"dirichlet distribution: count {excerpt(count)} of {excerpt(name)} must be > 0"
                             " (leave out an outcome that never happens)")
    return DirichletRow(path, tuple(counts), tuple(float(c) for c in counts.values()))


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
