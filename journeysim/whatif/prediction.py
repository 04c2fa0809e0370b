"""Predictions: what a hypothesis does to a metric, with an interval that reflects what we do not know.

Each draw takes (1) every range or distribution of the hypothesis at a random value,
(2) when the map carries ``observations``, its rows from their Dirichlet posterior
(:func:`journeysim.whatif._drawn.posterior_draws`), and evaluates the baseline and the
variant built from that same draw with the chosen engine; the sampling engines add
(3) their sampling noise, with common random numbers for baseline and variant.

The exact engine evaluates all draws at once where it can (:mod:`journeysim.whatif._drawn`
applies the changes to arrays, :mod:`journeysim.engines.stacked` solves them stacked);
otherwise, and for the sampling engines, each draw's variant is built as a journey.
Central values are medians over the draws, intervals equal-tailed quantiles.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from journeysim._files import OWN_PROJECT, check_inside, confinement, read_document, write_atomic
from journeysim._hash import file_sha256
from journeysim._json import plain
from journeysim._result import Result
from journeysim._text import (
    count,
    fmt,
    format_table,
    money,
    pct,
    pct_interval,
    percent_level,
    points,
    rate,
    wrap,
)
from journeysim.errors import ScenarioError, UsageError, excerpt, whole_number
from journeysim.maps.checks import trapped_touchpoints
from journeysim.engines.stacked import stackable
from journeysim.journey import Edge, Journey, Segment, Touchpoint
from journeysim.whatif._batch import (
    BATCHED,
    DIRICHLET_PRIOR,
    SAMPLING_ENGINES,
    exact_batch,
    exact_each,
    sampled_batch,
    stacked_batch,
)
from journeysim.whatif._drawn import apply_drawn, journeys_from_draws, posterior_draws, posterior_maps
from journeysim.whatif.hypothesis import Hypothesis, load_hypothesis

__all__ = ["Prediction", "predict", "save_prediction", "read_prediction", "check_engine", "draws_needed", "PREDICTION_KEYS", "PREDICTION_FORMAT", "ENGINES",
           "change_format", "hypothesis_path"]

ENGINES = ("exact", *SAMPLING_ENGINES)
PREDICTION_FORMAT = "journeysim-prediction/1"
#: The keys of ``Prediction.to_dict()`` (and ``journeysim predict --json``).
PREDICTION_KEYS = (
    "hypothesis", "metric", "baseline", "variant", "lift_abs", "lift_rel", "interval_level",
    "baseline_interval", "variant_interval", "lift_abs_interval", "lift_rel_interval", "prob_positive",
    "by_segment", "by_stage", "engine", "draws", "seed", "method",
)
#: Default run length of each sampling-engine call: customers per segment, or days.
DEFAULT_SIZE = {"montecarlo": 20_000, "agents": 60}


@dataclass(frozen=True, repr=False)
class Prediction(Result):
    """Baseline and variant metric, lifts with equal-tailed intervals, and the draws behind them.

    ``samples`` holds the per-draw ``baseline``, ``variant``, ``lift_abs`` and
    ``lift_rel`` (read-only arrays); ``parameters`` the per-draw value of every uncertain
    number of the hypothesis, by its path. ``inputs`` maps the hypothesis, baseline and
    observations files to the ``sha256:`` hashes of the bytes read. :func:`save_prediction` writes this type
    and :func:`read_prediction` reads it back (``source`` is then the file read).
    """

    hypothesis: str
    metric: str
    baseline: float
    variant: float
    lift_abs: float
    lift_rel: float | None
    interval_level: float
    lift_abs_interval: tuple[float, float]
    lift_rel_interval: tuple[float | None, float | None]
    baseline_interval: tuple[float | None, float | None] = (None, None)
    variant_interval: tuple[float | None, float | None] = (None, None)
    prob_positive: float | None = None
    by_segment: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    by_stage: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    engine: str = "exact"
    draws: int = 0
    seed: int | None = None
    method: str = ""
    hypothesis_file: str | None = ""
    inputs: Mapping[str, str] = field(default_factory=dict)
    samples: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    source: str = field(default="", compare=False)
    #: Each guardrail's predicted change: ``metric -> {margin, harm, baseline, variant, change, change_interval,
    #: prob_harm_beyond_margin}`` (only when the hypothesis names guardrails).
    guardrails: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("samples", "parameters"):
            arrays = {}
            for key, values in getattr(self, name).items():
                arr = np.array(values, dtype=float)
                arr.setflags(write=False)
                arrays[key] = arr
            object.__setattr__(self, name, MappingProxyType(arrays))
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))

    @property
    def lift_rel_sd(self) -> float:
        """Spread of the predicted relative lift: the draws' sd, else the interval's normal-equivalent sd."""
        draws = self.samples.get("lift_rel")
        if draws is not None and len(draws) > 1:
            return float(np.std(draws, ddof=1))
        from scipy.stats import norm      # a second to load: reading a prediction must not pay it

        low, high = self.lift_rel_interval
        return (high - low) / (2 * norm.isf((1 - self.interval_level) / 2))

    def to_dict(self) -> dict[str, Any]:
        """The prediction under :data:`PREDICTION_KEYS`, JSON-ready."""
        out = {}
        for key in PREDICTION_KEYS:
            value = getattr(self, key)
            out[key] = plain(value)
        if self.guardrails:
            out["guardrails"] = plain(self.guardrails)
        return out

    def to_record(self) -> dict[str, Any]:
        """The saved form (``--save``): :meth:`to_dict` plus method, inputs' hashes, draws and parameters."""
        return {
            **self.to_dict(),
            "method": self.method,
            "format": PREDICTION_FORMAT,
            "hypothesis_file": self.hypothesis_file,
            "inputs": dict(self.inputs),
            "samples": {k: [x if math.isfinite(x) else None for x in v.tolist()] for k, v in self.samples.items()},
            "parameters": {k: v.tolist() for k, v in self.parameters.items()},
        }

    def summary(self) -> str:
        """The metric's central value and interval for baseline, variant and lift; by segment; stage reach."""
        level = percent_level(self.interval_level)
        value, change = _formats(self.metric)
        span = lambda pair, f: f"[{f(pair[0])}, {f(pair[1])}]"  # noqa: E731
        rows = [
            ("baseline", value(self.baseline), span(self.baseline_interval, value)),
            ("variant", value(self.variant), span(self.variant_interval, value)),
            ("lift (absolute)", change(self.lift_abs), span(self.lift_abs_interval, change)),
            ("lift (relative)", pct(self.lift_rel), pct_interval(self.lift_rel_interval)),
            ("P(lift > 0)", rate(self.prob_positive), ""),
        ]
        parts = [wrap(f"hypothesis: {self.hypothesis}"),
                 format_table(f"{self.metric} ({self.engine} engine)", ["", "central", f"{level} interval"], rows)]
        for title, table, (value, change) in (("by segment", self.by_segment, _formats(self.metric)),
                                              ("reach by stage", self.by_stage, (rate, points))):
            if table:
                parts.append(format_table(title, ["", "baseline", "variant", "lift", f"{level} interval"], [
                    (name, value(r["baseline"]), value(r["variant"]), change(r["lift_abs"]),
                     span(r["lift_abs_interval"], change)) for name, r in table.items()]))
        if self.guardrails:
            parts.append(format_table(f"guardrails (predicted change, {level} interval)",
                                      ["metric", "harm allowed", "baseline", "variant", "change", "interval",
                                       "P(harm > margin)"],
                                      [(m, f"{g['harm']} by {fmt(g['margin'])}", fmt(g["baseline"]), fmt(g["variant"]),
                                        f"{g['change']:+.4g}", span(g["change_interval"], lambda x: f"{x:+.4g}"),
                                        rate(g["prob_harm_beyond_margin"])) for m, g in self.guardrails.items()]))
        drawn = "none needed (nothing uncertain)" if self.method.startswith("nothing uncertain") else count(self.draws)
        parts.append(f"draws: {drawn}, seed: {self.seed if self.seed is not None else '-'}")
        parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _headline(self) -> str:
        rel = "-" if self.lift_rel is None else f"{self.lift_rel:+.2%}"
        low, high = self.lift_rel_interval
        span = "-" if low is None else f"[{low:+.2%}, {high:+.2%}]"
        return (f"{self.hypothesis!r}: {self.metric} {fmt(self.baseline)} -> {fmt(self.variant)}, lift {rel} "
                f"{span} ({percent_level(self.interval_level)}, {self.engine}, {self.draws} draws)")

    def _table(self):
        """One row per estimate: ``scope`` (total, segment, stage), ``name``, ``quantity``, ``value``, ``low``, ``high``."""
        rows = []
        for quantity in ("baseline", "variant", "lift_abs", "lift_rel"):
            low, high = getattr(self, f"{quantity}_interval")
            rows.append(("total", None, quantity, getattr(self, quantity), low, high))
        for scope, table in (("segment", self.by_segment), ("stage", self.by_stage)):
            for name, r in table.items():
                for quantity in ("baseline", "variant"):
                    rows.append((scope, name, quantity, r.get(quantity), None, None))
                low, high = r.get("lift_abs_interval") or (None, None)
                rows.append((scope, name, "lift_abs", r.get("lift_abs"), low, high))
        return ("scope", "name", "quantity", "value", "low", "high"), rows


def _formats(metric: str):
    """How a value of ``metric`` and a change of it read in a table: rates in percent (changes in points),
    money grouped, counts per customer as numbers."""
    if metric == "conversion_rate":
        return rate, points
    if metric == "expected_value":
        return money, lambda v: money(v, signed=True)
    return fmt, lambda v: "-" if v is None else f"{v:+.4g}"


def change_format(metric: str):
    """How a change of ``metric`` reads in a table (``+0.33 pp``, ``+183.15``).

    >>> change_format("conversion_rate")(0.0033)
    '+0.33 pp'
    """
    return _formats(metric)[1]


def _quantiles(x: np.ndarray, level: float) -> tuple[float | None, float | None]:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _median(x: np.ndarray) -> float | None:
    finite = x[np.isfinite(x)]
    return float(np.median(finite)) if finite.size else None


def _relative(variant: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    out = np.full(baseline.shape, np.nan)
    np.divide(variant, baseline, out=out, where=baseline > 0)
    return out - 1.0


def _quantile_rows(X: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(X, q, axis=1)`` for rows of finite numbers, the same numbers (numpy's default linear
    method: virtual index ``(n - 1) q``, its interpolation) from the rows sorted along their contiguous axis,
    where ``np.quantile`` partitions along a strided one, several times slower.

    >>> X = np.random.default_rng(0).normal(size=(3, 101))
    >>> bool(np.array_equal(_quantile_rows(X, (0.5, 0.05, 0.95)), np.quantile(X, [0.5, 0.05, 0.95], axis=1)))
    True
    """
    s = np.sort(X, axis=1)
    n = s.shape[1]
    out = np.empty((len(q), len(s)))
    for k, p in enumerate(q):
        virtual = (n - 1) * p
        if virtual >= n - 1:
            out[k] = s[:, -1]
            continue
        lo = math.floor(virtual)
        gamma = virtual - lo
        a, b = s[:, lo], s[:, lo + 1]
        diff = b - a
        out[k] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return out


def _summaries(series: list[np.ndarray], level: float) -> list[tuple[float | None, float | None, float | None]]:
    """(median, low, high) of each series' finite draws, as :func:`_median` and :func:`_quantiles` give them.

    A series whose draws are all finite takes the quantiles ``(0.5, tail, 1 - tail)``: the value itself when
    every draw holds the same bits (a baseline without observations, a stage the change leaves alone), else
    from one :func:`_quantile_rows` of every such series together.
    """
    tail = (1.0 - level) / 2.0
    out: list = [None] * len(series)
    X = np.vstack(series)                    # (the series of a prediction have one value per draw each)
    finite = np.isfinite(X).all(axis=1)
    bits = X.view(np.uint64)
    same = (bits == bits[:, :1]).all(axis=1)
    varied = []
    for k, x in enumerate(series):
        if not x.size or not finite[k]:
            out[k] = (_median(x), *_quantiles(x, level))
        elif same[k]:
            out[k] = (float(x[0]),) * 3
        else:
            varied.append(k)
    if varied:
        q = _quantile_rows(X[varied], (0.5, tail, 1.0 - tail))
        for j, k in enumerate(varied):
            out[k] = tuple(float(v) for v in q[:, j])
    return out


def _breakdown_series(base: Mapping[str, np.ndarray], var: Mapping[str, np.ndarray]) -> dict:
    """Per segment or stage: its baseline, variant and lift draws."""
    out = {}
    for name in dict.fromkeys([*base, *var]):
        b = base.get(name, np.zeros_like(next(iter(var.values()))))
        v = var.get(name, np.zeros_like(b))
        lift = v - b
        # Rounding of two solves of numbers the change leaves alone (a stage before a referral's effect) is no lift:
        # left in, it printed as '+1.4e-15 pp' with P(lift > 0) 100%.
        lift[np.abs(lift) <= 1e-12 * np.maximum(1.0, np.maximum(np.abs(b), np.abs(v)))] = 0.0
        out[name] = (b, v, lift)
    return out


def _breakdown(triples: dict, stats: list, shares=None) -> dict:
    """The rows of a breakdown from its series (:func:`_breakdown_series`) and their summaries, in order."""
    out = {}
    for k, (name, (_, _, lift)) in enumerate(triples.items()):
        (mb, _, _), (mv, _, _), (ml, lo, hi) = stats[3 * k:3 * k + 3]
        row = {"baseline": mb, "variant": mv, "lift_abs": ml, "lift_abs_interval": [lo, hi],
               "prob_positive": np.count_nonzero(lift > 0) / lift.size}
        out[name] = {"share": shares[name], **row} if shares else row
    return out


def predict(
    hypothesis: Hypothesis | str | os.PathLike,
    *,
    engine: str = "exact",
    draws: int = 2000,
    level: float = 0.9,
    rng: np.random.Generator,
    size: float | None = None,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
    max_transitions: int | None = None,
) -> Prediction:
    """Predict the metric of a hypothesis's variant against its baseline, with intervals.

    Each draw sets every range or distribution of the hypothesis, draws the map's rows
    from their posterior when it carries ``observations``, and evaluates baseline and
    variant with the engine (the sampling engines add their noise, with common random
    numbers); central values are medians over the draws, intervals equal-tailed.

    Parameters
    ----------
    hypothesis : Hypothesis or path of a hypothesis file
    engine : {"exact", "montecarlo", "agents"}
    draws : int
        Joint draws of the uncertain inputs (and of sampling noise).
    level : float
        Level of the equal-tailed intervals, in (0, 1).
    rng : numpy.random.Generator
        The random stream for every draw.
    size : float, optional
        Run length of each sampling-engine call (customers per segment for
        ``montecarlo``, days for ``agents``); ignored by ``exact``.
    seed : int, optional
        Recorded in the result only (the CLI's ``--seed``).
    progress : callable, optional
        Called now and then with the share of the work done, from 0 to 1 (the studio's progress bar).
    max_transitions : int, optional
        Sampling engines: the most transitions (visits) the prediction may take, all draws together,
        and each run too (default :data:`~journeysim.engines.workload.MAX_TRANSITIONS` of the engine).
        A prediction expected to take more is refused before it starts
        (:class:`~journeysim.errors.LimitError`).

    Returns
    -------
    Prediction
        Baseline, variant and lifts with intervals, by segment and stage, and the draws.

    Examples
    --------
    >>> p = predict("scenarios/hypotheses/live-chat.yaml", draws=500, rng=np.random.default_rng(1))
    >>> round(p.baseline, 5), round(p.lift_abs, 5), [round(x, 5) for x in p.lift_abs_interval]
    (0.04842, 0.00936, [0.00762, 0.01125])
    """
    if engine not in ENGINES:
        raise UsageError(f"engine {excerpt(engine)} is not one of {', '.join(ENGINES)}")
    if not whole_number(draws) or draws < 1:
        raise UsageError(f"draws={excerpt(draws)} must be an integer >= 1")
    if not 0.0 < level < 1.0:
        raise UsageError(f"level={excerpt(level)} must be between 0 and 1 (e.g. 0.9)")
    hyp = hypothesis if isinstance(hypothesis, Hypothesis) else load_hypothesis(hypothesis)
    check_engine(hyp, engine)
    central = hyp.variant()     # the variant at the central values: checked, and built once for what follows
    _check_variant(hyp, central)
    draws = int(draws)
    why = draws_needed(hyp, engine)
    if draws < 2 and why is not None:
        raise UsageError(f"draws=1 gives no interval (the hypothesis {why}): give draws={_few_draws(level)} or more "
                         "(200 or more for a steady interval)")
    params, redrawn = hyp.draw(draws, rng=rng)
    observed = bool(hyp.baseline.observations)
    fixed = not params and not observed
    n_eval = 1 if fixed and engine == "exact" else draws
    drawn = posterior_draws(hyp.baseline, n_eval, rng=rng)
    stacked = None
    if engine == "exact" and not fixed:
        base = posterior_maps(hyp.baseline, drawn, n_eval)
        variant = apply_drawn(hyp, base, params, central)
        if variant is not None and stackable(hyp.baseline) and stackable(variant.structure):
            stacked = (base, variant)
    unseen = False    # nothing uncertain, and a variant the exact engine cannot tell from the baseline
    if stacked is not None:
        # Every draw at once: the changes as array operations, the solves stacked.
        def solve(metric):
            return stacked_batch(stacked[0], metric), stacked_batch(stacked[1], metric)

        b, v = solve(hyp.metric)
    else:
        if fixed and engine == "exact":
            baselines, variants = [hyp.baseline], [central]
            unseen = _same_for_exact(central, hyp.baseline)
        else:
            baselines, variants = _variants(hyp, journeys_from_draws(hyp.baseline, drawn, n_eval), params, observed,
                                            engine, progress)

        def solve(metric):
            if not fixed:
                return exact_batch(baselines, metric), exact_batch(variants, metric)
            # Nothing uncertain: the exact engine's own values on the one map each (as solve_exact gives them),
            # the baseline's for a variant the exact engine cannot tell from it.
            b = exact_each(baselines, metric)
            return b, b if unseen else exact_each(variants, metric)

        if engine == "exact":
            b, v = solve(hyp.metric)    # nothing uncertain: one value each, repeated in the samples
        else:
            size = DEFAULT_SIZE[engine] if size is None else size
            limit = _check_work(hyp, variants[0], engine, size, draws, max_transitions)
            b, v = sampled_batch(list(zip(baselines, variants)), hyp.metric, engine, size, rng=rng,
                                 source=hyp.baseline_path, max_transitions=limit)
    notes = _draw_notes(hyp, redrawn, draws)
    result = _assemble(hyp, engine, draws, level, seed, params, observed, b, v, size, notes, stacked is not None,
                       unseen)
    if hyp.guardrails:
        result = dataclasses.replace(result, guardrails=_guardrails(hyp, solve, draws, level),
                                     method=result.method + "; guardrails: each one's metric solved exactly on the "
                                     "same drawn maps, P(harm > margin) the share of draws harming beyond the margin")
    if progress is not None:
        progress(1.0)
    return result


#: The fields the exact engine reads, by type: all but the ``extra`` attributes of touchpoints and edges, which
#: only the sampling engines read (capacity, patience, social proof...).
_EXACT_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra" or cls is Journey)
                 for cls in (Journey, Segment, Touchpoint, Edge)}


def _same_for_exact(x: Any, y: Any) -> bool:
    """Whether the exact engine reads the same of ``x`` and ``y`` (maps, or parts of them), in the same order."""
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if isinstance(x, Mapping):
        return list(x) == list(y) and all(_same_for_exact(x[k], y[k]) for k in x)
    names = _EXACT_FIELDS.get(type(x))
    if names is None:
        return x == y
    return all(_same_for_exact(getattr(x, name), getattr(y, name)) for name in names)


def _variants(hyp: Hypothesis, baselines: list[Journey], params, observed: bool, engine: str, progress):
    """The baselines and one variant per draw, built map by map."""
    variants = []
    step = max(1, len(baselines) // 50)
    for k, base in enumerate(baselines):
        try:
            variants.append(hyp.variant({p: float(v[k]) for p, v in params.items()}, base))
        except ScenarioError as exc:
            if len(baselines) == 1:
                raise
            rows = " and the map's observed rows" if observed else ""
            raise ScenarioError(f"{exc} (in joint draw {k + 1} of {len(baselines)}: the hypothesis's uncertain "
                                f"numbers{rows} drawn)") from None
        if progress is not None and k % step == 0:
            # Building the variants is most of an exact prediction's time; the solves are batched.
            progress(0.8 * k / len(baselines) if engine == "exact" else 0.1 * k / len(baselines))
    return baselines, variants


def _guardrails(hyp: Hypothesis, solve, draws: int, level: float) -> dict:
    out = {}
    for g in hyp.guardrails:
        base, var = (r["total"] for r in solve(g.metric))
        if len(base) != draws:        # nothing uncertain: one map each
            base, var = np.repeat(base, draws), np.repeat(var, draws)
        change = var - base
        harm = change if g.harm == "up" else -change
        out[g.metric] = {"margin": g.margin, "harm": g.harm, "baseline": _median(base), "variant": _median(var),
                         "change": _median(change), "change_interval": list(_quantiles(change, level)),
                         "prob_harm_beyond_margin": float(np.mean(harm > g.margin))}
    return out


def check_engine(hyp: Hypothesis, engine: str) -> None:
    """Refuse an engine the baseline map cannot run on (the agents engine needs ``arrivals``).

    Examples
    --------
    >>> check_engine(load_hypothesis("scenarios/hypotheses/live-chat.yaml"), "agents")
    Traceback (most recent call last):
    ...
    journeysim.errors.ScenarioError: scenarios/online-store.yaml: the agents engine needs 'arrivals: {rate: ..., per: day}' in the map (hypothesis scenarios/hypotheses/live-chat.yaml; use the exact or montecarlo engine, or add arrivals)
    """
    if engine == "agents" and "arrivals" not in hyp.baseline.extra:
        raise ScenarioError(f"{hyp.baseline_path}: the agents engine needs 'arrivals: {{rate: ..., per: day}}' in the map "
                            f"(hypothesis {hyp.source}; use the exact or montecarlo engine, or add arrivals)")


def _check_variant(hyp: Hypothesis, variant: Journey) -> None:
    for seg, _, j in variant.segment_journeys():
        for group in trapped_touchpoints(j):
            where = f"segment {excerpt(seg)}: " if seg is not None else ""
            raise ScenarioError(f"{hyp.source}: {where}the changes trap customers in a loop through "
                                f"{', '.join(map(excerpt, group))} (no drop-off: give one of them an exit)")


def _draw_notes(hyp: Hypothesis, redrawn: Mapping[str, int], draws: int) -> list[str]:
    """What the draws of the uncertain numbers did beyond drawing them: truncations, joint rows, redraws."""
    notes = [f"{path}: {u.describe()} truncated to [0, 1] ({u.outside:.2%} of its mass lay outside)"
             for path, u in hyp.parameters.items() if u.outside > 0.00005]
    for row in hyp.joint:
        counts = ", ".join(f"{o} {c:g}" for o, c in zip(row.outcomes, row.counts))
        notes.append(f"{row.path}: the whole row drawn from Dirichlet({counts})")
    for row in hyp.rows:
        n = redrawn.get(row.path, 0)
        if n or row.excess > 0:
            notes.append(f"{row.path}: joint draws summing over 1 (probability {row.excess:.2%}) redrawn, "
                         f"{n} of {draws} ({n / draws:.2%}) here")
    return notes


def _check_work(hyp: Hypothesis, variant: Journey, engine: str, size: float, draws: int, limit) -> int:
    """The limit of transitions, after refusing a prediction whose runs are expected to pass it, all draws together.

    Each draw runs the engine on baseline and variant, segment by segment: the expected work
    of a run is its customers (montecarlo) or expected arrivals (agents) times the expected
    touches of a customer with the referrals it brings (:func:`~journeysim.engines.workload.workload`).
    The agents engine ends customers' journeys with the run: with delays the touches are an
    upper bound, so only the arrivals count then.
    """
    from journeysim.engines.workload import MAX_TRANSITIONS, check_limit, many, too_much, workload

    limit = MAX_TRANSITIONS[engine] if limit is None else check_limit(limit)
    total = 0.0
    for arm in (hyp.baseline, variant):
        for _, _, part in arm.segment_journeys():
            work = workload(part)
            if engine == "montecarlo":
                total += size * work.montecarlo_cost()
            else:
                from journeysim.engines.agents.model import day_rates

                arrivals = float(day_rates(dict(part.extra["arrivals"]), int(size)).sum())
                each = work.per_seed if work.per_seed is not None else math.inf
                total += arrivals * (1.0 if work.timed else each)
    total *= draws
    if total > limit:
        unit = "customers per arm and segment" if engine == "montecarlo" else "days"
        raise too_much(hyp.source, f"{draws:,} draws of {int(size):,} {unit} with the {engine} engine would take "
                                   f"about {many(total)} transitions in all", limit)
    return limit


def draws_needed(hyp: Hypothesis, engine: str) -> str | None:
    """Why a prediction of ``hyp`` needs draws for its interval ("has uncertain numbers"...), or None when one
    exact solve is the whole answer (read by :func:`predict` and by a plan's check of ``draws: 1``)."""
    if hyp.parameters:
        return "has uncertain numbers"
    if hyp.baseline.observations:
        return "has a baseline with observed rows"
    if engine != "exact":
        return f"is predicted by the {engine} engine, which samples"
    return None


def _few_draws(level: float) -> int:
    """The fewest draws whose equal-tailed ``level`` interval has a draw beyond each end: 20 for 90%."""
    return math.ceil(2 / (1 - level) - 1e-9)


def _method(engine: str, metric: str, draws: int, level: float, params: Mapping, observed: bool, size,
            notes: list[str] = (), stacked: bool = False, unseen: bool = False) -> str:
    sources = []
    if params:
        drawn = f" ({'; '.join(notes)})" if notes else ""
        sources.append(f"{len(params)} uncertain number(s) of the hypothesis drawn from their ranges/distributions"
                       f"{drawn}")
    if observed:
        sources.append(f"observed rows drawn from their Dirichlet posterior (counts p*n plus a prior of {DIRICHLET_PRIOR} per outcome)")
    if stacked:
        solver = ("the changes applied to every draw at once as array operations, all draws solved exactly together "
                  "(absorbing Markov chain, stacked dense inverses; referrals as a branching process)")
    elif engine == "exact":
        solver = ("each draw solved exactly (absorbing Markov chain, batched dense solve)" if metric in BATCHED else
                  "each draw solved exactly (absorbing Markov chain; referrals as a branching process), one by one")
    else:
        unit = "customers per segment" if engine == "montecarlo" else "days"
        solver = (f"each draw simulated by the {engine} engine ({size:g} {unit}), baseline and variant with common "
                  "random numbers")
    if not sources and engine == "exact" and unseen:
        return ("nothing uncertain: the variant differs from the baseline only in what the exact engine does not read "
                "(attributes of the sampling engines, such as capacity), so one exact solve serves both; the interval "
                "is the point")
    if not sources and engine == "exact":
        return "nothing uncertain: baseline and variant solved exactly once; the interval is the point"
    few = "" if draws >= _few_draws(level) else (
        f"; TOO FEW DRAWS: a {percent_level(level)} interval needs at least {_few_draws(level):,} (a draw beyond each "
        f"end), so these intervals are the spread of {draws} draws, not {percent_level(level)} intervals (use "
        f"{max(200, _few_draws(level)):,} or more)")
    return (f"{draws} joint draws: {'; '.join(sources) or 'no uncertain inputs'}; {solver}; central values are "
            f"medians, intervals equal-tailed {percent_level(level)} quantiles of the draws{few}")


def _assemble(hyp, engine, draws, level, seed, params, observed, b, v, size, notes=(), stacked=False,
              unseen=False) -> Prediction:
    """The prediction from the per-draw results of baseline and variant (of one draw only when nothing is
    uncertain: every draw holds its numbers, and so do the summaries)."""
    base, var = b["total"], v["total"]
    lift, rel = var - base, _relative(var, base)
    shares = {name: s.share for name, s in hyp.baseline.segments.items()}
    inputs = dict(hyp.inputs) or {path: file_sha256(path) for path in (hyp.source, hyp.baseline_path)
                                   if Path(path).is_file()}
    segments, stages = _breakdown_series(b["segments"], v["segments"]), _breakdown_series(b["stages"], v["stages"])
    # every series summarised at once
    stats = _summaries([base, var, lift, rel, *(x for t in (*segments.values(), *stages.values()) for x in t)], level)
    (mb, *ib), (mv, *iv), (ml, *il), (mr, *ir) = stats[:4]
    return Prediction(
        hypothesis=hyp.title,
        metric=hyp.metric,
        baseline=mb,
        variant=mv,
        lift_abs=ml,
        lift_rel=mr,
        interval_level=level,
        baseline_interval=tuple(ib),
        variant_interval=tuple(iv),
        lift_abs_interval=tuple(il),
        lift_rel_interval=tuple(ir),
        prob_positive=np.count_nonzero(lift > 0) / lift.size,
        by_segment=_breakdown(segments, stats[4:4 + 3 * len(segments)], shares),
        by_stage=_breakdown(stages, stats[4 + 3 * len(segments):]),
        engine=engine,
        draws=draws,
        seed=seed,
        method=_method(engine, hyp.metric, draws, level, params, observed, size, notes, stacked, unseen),
        hypothesis_file=hyp.source,
        inputs=inputs,
        samples={k: x if len(x) == draws else np.repeat(x, draws) for k, x in
                 (("baseline", base), ("variant", var), ("lift_abs", lift), ("lift_rel", rel))},
        parameters=params,
    )


def save_prediction(prediction: Prediction, path: str | os.PathLike) -> None:
    """Write the prediction's saved form (:meth:`Prediction.to_record`) as JSON, atomically.

    Parameters
    ----------
    prediction : Prediction
    path : str or os.PathLike
        The file to write (replaced if it exists).

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> p = predict("scenarios/hypotheses/live-chat.yaml", draws=20, rng=np.random.default_rng(1), seed=1)
    >>> path = Path(tempfile.mkdtemp()) / "live-chat.prediction.json"
    >>> save_prediction(p, path)
    >>> record = json.loads(path.read_text())
    >>> record["format"], len(record["samples"]["lift_abs"]), sorted(record["parameters"])
    ('journeysim-prediction/1', 20, ['changes[0].to.purchase', 'changes[1].scale.by'])
    """
    body = json.dumps(prediction.to_record(), ensure_ascii=False, indent=1, allow_nan=False)
    write_atomic(path, body + "\n")


_SAMPLE_KEYS = ("baseline", "variant", "lift_abs", "lift_rel")


def _number(data: Mapping, key: str, source: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{source}: key '{key}': {excerpt(value)} is not a finite number")
    return float(value)


def _interval(data: Mapping, key: str, source: str) -> tuple[float, float]:
    value = data.get(key)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or value[0] > value[1]):
        raise ScenarioError(f"{source}: key '{key}': {excerpt(value)} is not an interval [low, high]")
    return float(value[0]), float(value[1])


def _arrays(data: Any, key: str, source: str, length: int | None) -> dict[str, np.ndarray]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: key '{key}': expected a mapping of lists of numbers")
    out = {}
    for name, values in data.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError(f"{source}: key '{key}.{name}': not a list of numbers") from None
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ScenarioError(f"{source}: key '{key}.{name}': not a list of finite numbers")
        if length is not None and len(arr) != length:
            raise ScenarioError(f"{source}: key '{key}.{name}': {len(arr)} values, expected {length} (one per draw)")
        out[str(name)] = arr
    return out


def hypothesis_path(prediction: Prediction, given: str | None = None, *, within: Any = OWN_PROJECT) -> tuple[str, bool]:
    """``(path, changed)``: the hypothesis file behind ``prediction`` and whether it changed since.

    ``given`` (a path the user names) wins; otherwise the prediction's ``hypothesis_file``, as written or relative
    to the prediction file, which must lie inside ``within`` (by default the prediction's project; ``None``:
    anywhere; see :func:`journeysim._files.confinement`). ``changed`` says that the file's SHA-256 differs from
    the one the prediction recorded.

    Raises
    ------
    ScenarioError
        The prediction names no hypothesis file, or the file is not there.

    Examples
    --------
    >>> hypothesis_path(read_prediction("experiments/live-chat.prediction.json"))
    ('scenarios/hypotheses/live-chat.yaml', False)
    """
    if given is not None:
        return given, False
    path = prediction.hypothesis_file
    if not path:
        raise ScenarioError(f"{prediction.source}: key 'hypothesis_file' is missing; name the file with --hypothesis")
    if not Path(path).is_file() and (Path(prediction.source).parent / path).is_file():
        path = str(Path(prediction.source).parent / path)
    check_inside(path, confinement(within, Path(prediction.source).parent),
                 f"{prediction.source}: hypothesis_file {excerpt(prediction.hypothesis_file)}")
    if not Path(path).is_file():
        raise ScenarioError(f"prediction {prediction.source} names hypothesis {prediction.hypothesis_file}: no such "
                            "file (name the hypothesis file with --hypothesis)")
    recorded = prediction.inputs.get(prediction.hypothesis_file)
    return path, bool(recorded) and recorded != file_sha256(path)


def read_prediction(path: str | os.PathLike) -> Prediction:
    """Read and check a prediction file written by :func:`save_prediction` (``journeysim predict --save``).

    Every problem names the file and the key.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Prediction
        With its draws (``samples``, ``parameters``); ``source`` is ``path``.

    Examples
    --------
    >>> p = read_prediction("experiments/live-chat.prediction.json")
    >>> p.metric, p.source, len(p.samples["lift_rel"]) == p.draws
    ('conversion_rate', 'experiments/live-chat.prediction.json', True)
    """
    source = str(path)
    data, problems = read_document(path)
    if problems:
        raise ScenarioError(problems[0])
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: not a saved prediction (expected a JSON object)")
    if data.get("format") != PREDICTION_FORMAT:
        raise ScenarioError(f"{source}: key 'format': {excerpt(data.get('format'))} (expected '{PREDICTION_FORMAT}'; "
                            "write one with `journeysim predict HYPOTHESIS --save FILE`)")
    level = _number(data, "interval_level", source)
    if not 0 < level < 1:
        raise ScenarioError(f"{source}: key 'interval_level': {level:g} must be between 0 and 1")
    samples = _arrays(data.get("samples"), "samples", source, None)
    lengths = {len(v) for v in samples.values()}
    if len(lengths) > 1:
        raise ScenarioError(f"{source}: key 'samples': lists of different lengths {sorted(lengths)}")
    missing = [k for k in _SAMPLE_KEYS if samples and k not in samples]
    if missing:
        raise ScenarioError(f"{source}: key 'samples': missing '{missing[0]}'")
    draws = lengths.pop() if lengths else None
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, Mapping):
        raise ScenarioError(f"{source}: key 'inputs': expected {{path: sha256}}")
    optional = lambda key: _interval(data, key, source) if data.get(key) is not None else (None, None)  # noqa: E731
    return Prediction(
        hypothesis=str(data.get("hypothesis", "")), metric=str(data.get("metric", "conversion_rate")),
        baseline=_number(data, "baseline", source), variant=_number(data, "variant", source),
        lift_abs=_number(data, "lift_abs", source), lift_rel=_number(data, "lift_rel", source),
        interval_level=level, baseline_interval=optional("baseline_interval"),
        variant_interval=optional("variant_interval"), lift_abs_interval=_interval(data, "lift_abs_interval", source),
        lift_rel_interval=_interval(data, "lift_rel_interval", source),
        prob_positive=data.get("prob_positive"), by_segment=data.get("by_segment") or {},
        by_stage=data.get("by_stage") or {}, engine=str(data.get("engine", "")),
        draws=int(data.get("draws") or draws or 0), seed=data.get("seed"), method=str(data.get("method", "")),
        hypothesis_file=data.get("hypothesis_file"), inputs={str(k): str(v) for k, v in inputs.items()},
        samples=samples, parameters=_arrays(data.get("parameters"), "parameters", source, draws), source=source,
        guardrails=_saved_guardrails(data.get("guardrails"), source))


def _saved_guardrails(value: Any, source: str) -> dict:
    if value is None:
        return {}
    keys = ("margin", "harm", "change", "change_interval")
    if not isinstance(value, Mapping) or not all(isinstance(g, Mapping) and all(k in g for k in keys)
                                                 for g in value.values()):
        raise ScenarioError(f"{source}: key 'guardrails': expected {{metric: {{{', '.join(keys)}, ...}}}}")
    return {str(k): dict(v) for k, v in value.items()}
