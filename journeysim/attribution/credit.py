"""Attributing conversions and value to touchpoints, model by model, side by side.

Models: ``markov`` (removal effects of the order-``k`` chain of the paths, solved
exactly; conversions shared in proportion to the removal effects on conversions and
value in proportion to the removal effects on conversion value, as
ChannelAttribution's ``total_conversions`` and ``total_conversion_value`` are; see
:mod:`journeysim.attribution.markov`), the rule-based ``first``, ``last``,
``linear``, ``time-decay`` and ``position`` (see :mod:`journeysim.attribution.rules`) and
``shapley`` (exact Shapley values over the conversion rates of channel sets).
Bootstrap intervals resample journeys: each replicate draws the journeys' paths
and outcomes from a multinomial over the observed (path, outcome) counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from journeysim._result import Result
from journeysim._text import count, fmt, format_table, money, rate, rate_interval, wrap
from journeysim.attribution.markov import removal_effects
from journeysim.attribution.rules import SHAPLEY_LIMIT, rule_credit, shapley_credit, shapley_rate_credit
from journeysim.errors import UsageError, excerpt
from journeysim.logs.counts import NO_WINDOW, aggregate_events, dropped_events
from journeysim.logs.layout import LogLayout
from journeysim.logs.paths import PathTable, event_paths, read_clean_path_csv, read_path_file, require_conversions
from journeysim.logs.sources import connect, open_source, read_error

__all__ = ["MODELS", "Attribution", "attribute_paths", "attribute_file", "read_paths"]

MODELS = ("markov", "first", "last", "linear", "time-decay", "position", "shapley", "shapley-rate")
_LEVEL = 0.95


@dataclass(frozen=True, repr=False)
class Attribution(Result):
    """Attributed conversions and value per touchpoint under each model.

    ``models[model][touchpoint] = (conversions, value)``; ``removal_effects`` and
    ``removal_effects_value`` are the Markov model's removal effects on conversions
    and on conversion value (empty when it was not run): its conversions are shared
    in proportion to the first, its value in proportion to the second. With a
    bootstrap, ``intervals`` holds 95 % percentile intervals with the same layout
    (pairs of ``(low, high)``) and ``removal_intervals`` / ``removal_value_intervals``
    those of the removal effects.
    ``goals`` are the goals an event
    log's journeys ended at (``goals_by_default``: taken by default, as the touchpoints
    whose events carry a value); ``dropped`` counts the events the touchpoint map dropped;
    ``without_user`` the events left out for having no user id (``without_user_row``: the
    file row of the first).
    """

    models: Mapping[str, Mapping[str, tuple[float, float]]]
    removal_effects: Mapping[str, float]
    removal_effects_value: Mapping[str, float]
    order: int
    conversions: float
    value: float
    journeys: float
    paths: int
    bootstrap: int = 0
    intervals: Mapping[str, Mapping[str, tuple[tuple[float, float], tuple[float, float]]]] = field(default_factory=dict)
    removal_intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    removal_value_intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    method: str = ""
    goals: tuple[str, ...] = ()
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()
    dropped: Mapping[str, int] = field(default_factory=dict)
    without_user: int = 0
    without_user_row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"models": {MODEL: {TOUCHPOINT: {"conversions", "value"}}}, "removal_effects",
        "removal_effects_value", "order"}``; with a bootstrap also ``conversions_ci``/``value_ci`` per entry,
        ``removal_effects_ci``, ``removal_effects_value_ci`` and ``bootstrap``."""
        models: dict[str, Any] = {}
        for model, credit in self.models.items():
            models[model] = {}
            for tp, (conv, value) in credit.items():
                entry: dict[str, Any] = {"conversions": conv, "value": value}
                if self.bootstrap:
                    (clo, chi), (vlo, vhi) = self.intervals[model][tp]
                    entry["conversions_ci"] = [clo, chi]
                    entry["value_ci"] = [vlo, vhi]
                models[model][tp] = entry
        out: dict[str, Any] = {"models": models, "removal_effects": dict(self.removal_effects),
                               "removal_effects_value": dict(self.removal_effects_value), "order": self.order,
                               "goals": list(self.goals), "goals_by_default": self.goals_by_default}
        if self.bootstrap:
            out["removal_effects_ci"] = {k: list(v) for k, v in self.removal_intervals.items()}
            out["removal_effects_value_ci"] = {k: list(v) for k, v in self.removal_value_intervals.items()}
            out["bootstrap"] = self.bootstrap
        out.update(dropped_events=dict(self.dropped), events_without_user=self.without_user,
                   first_row_without_user=self.without_user_row, warnings=list(self.warnings), notes=list(self.notes),
                   method=self.method)
        return out

    def summary(self) -> str:
        head = [("journeys", count(self.journeys)), ("distinct paths", count(self.paths)),
                ("conversions", count(self.conversions)), ("value", money(self.value)), ("Markov order", fmt(self.order))]
        if self.goals:
            head.append(("goals", ", ".join(self.goals) + (" (by default: the touchpoints whose events carry a "
                                                           "value; name yours with --goal)" if self.goals_by_default
                                                           else "")))
        if self.dropped:
            head.append(("events dropped (touchpoint map)", dropped_events(self.dropped)))
        parts = [format_table("attribution", ["item", "value"], head)]
        names = list(dict.fromkeys(tp for credit in self.models.values() for tp in credit))
        names.sort(key=lambda tp: -self.removal_effects.get(tp, 0.0))
        # Credit is shared, so attributed conversions are fractional: one decimal; value in whole units.
        shown = (lambda x: f"{x:,.1f}", lambda x: money(x, cents=False))
        for what, k in (("conversions", 0), ("value", 1)):
            rows = []
            for tp in names:
                row = [tp]
                for model, credit in self.models.items():
                    cell = shown[k](credit[tp][k]) if tp in credit else "-"
                    if self.bootstrap and tp in credit:
                        lo, hi = self.intervals[model][tp][k]
                        cell += f" [{shown[k](lo)}, {shown[k](hi)}]"
                    row.append(cell)
                rows.append(row)
            parts.append(format_table(f"attributed {what}", ["touchpoint", *self.models], rows))
        if self.removal_effects:
            rows = []
            for tp in sorted(self.removal_effects, key=lambda tp: -self.removal_effects[tp]):
                row = [tp]
                for effects, intervals in ((self.removal_effects, self.removal_intervals),
                                           (self.removal_effects_value, self.removal_value_intervals)):
                    total = sum(effects.values())
                    row += [rate(effects[tp]), rate(effects[tp] / total if total > 0 else 0.0)]
                    if self.bootstrap:
                        row.append(rate_interval(intervals[tp]))
                rows.append(row)
            ci = ["95% interval"] if self.bootstrap else []
            parts.append(format_table(
                "Markov removal effects (conversions shared by the first, value by the second)",
                ["touchpoint", "on conversions", "share", *ci, "on value", "share", *ci], rows))
        parts.extend(wrap(f"warning: {w}") for w in self.warnings)
        parts.extend(wrap(f"note: {n}") for n in self.notes)
        parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _headline(self) -> str:
        return (f"{len(self.models)} models ({', '.join(self.models)}), {fmt(self.conversions)} conversions "
                f"over {self.paths} distinct paths")

    def _table(self):
        """One row per model and touchpoint: attributed conversions and value (with bootstrap intervals)."""
        rows = []
        for model, credit in self.models.items():
            for tp, (conversions, value) in credit.items():
                (clo, chi), (vlo, vhi) = self.intervals[model][tp] if self.bootstrap else ((None, None), (None, None))
                rows.append((model, tp, conversions, clo, chi, value, vlo, vhi, self.removal_effects.get(tp),
                             self.removal_effects_value.get(tp)))
        return ("model", "touchpoint", "conversions", "conversions_low", "conversions_high", "value", "value_low",
                "value_high", "removal_effect", "removal_effect_value"), rows


def _point(table: PathTable, models: Sequence[str], order: int, half_life: float):
    credit: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    effects = np.zeros((2, len(table.channels)))
    for model in models:
        if model == "markov":
            re = removal_effects(table, order)
            effects = np.array([[re.conversions[c] for c in table.channels], [re.value[c] for c in table.channels]])
            totals = effects.sum(axis=1, keepdims=True)
            share = np.divide(effects, totals, out=np.zeros_like(effects), where=totals > 0)
            credit[model] = (share[0] * table.conversions.sum(), share[1] * table.value.sum())
        elif model == "shapley":
            credit[model] = shapley_credit(table)
        elif model == "shapley-rate":
            credit[model] = shapley_rate_credit(table)
        else:
            credit[model] = rule_credit(table, model, half_life)
    return credit, effects


def _replicate(table: PathTable, rng: np.random.Generator) -> PathTable:
    counts = np.concatenate([table.conversions, table.nulls])
    total = int(round(counts.sum()))
    draw = rng.multinomial(total, counts / counts.sum()).astype(float)
    conv, nulls = draw[: len(table.conversions)], draw[len(table.conversions):]
    per_conversion = np.divide(table.value, table.conversions, out=np.zeros_like(table.value),
                               where=table.conversions > 0)
    return table.with_counts(conv, nulls, per_conversion * conv)


def attribute_paths(
    table: PathTable,
    models: Sequence[str] = MODELS,
    *,
    order: int = 1,
    half_life: float = 1.0,
    bootstrap: int = 0,
    rng: np.random.Generator | None = None,
) -> Attribution:
    """Attribute the conversions of a :class:`PathTable` under each of ``models``.

    Parameters
    ----------
    table : PathTable
    models : sequence of str
        Names from :data:`MODELS`. ``shapley-rate`` needs at most 15 touchpoints; when
        every model is asked for and there are more, it is left out with a note.
    order : int
        Markov order, 1 to 4.
    half_life : float
        Time-decay half-life, in touches.
    bootstrap : int
        Bootstrap replicates for intervals (0: none); needs ``rng``.
    rng : numpy.random.Generator, optional

    Returns
    -------
    Attribution

    Examples
    --------
    >>> t = PathTable.from_paths([["a", "b"], ["b"], ["a"]], [1, 1, 0], [1, 1, 2], [10, 10, 0])
    >>> r = attribute_paths(t, ["markov", "last"])
    >>> r.to_dict()["models"]["markov"]["a"], r.removal_effects["a"]
    ({'conversions': 0.6666666666666666, 'value': 6.666666666666666}, 0.5)
    """
    if not isinstance(table, PathTable):
        raise UsageError(f"table={excerpt(table)}: must be a PathTable, not {type(table).__name__} (read a file of "
                         "paths or events with journeysim.attribute, or build one with PathTable.from_paths)")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UsageError(f"unknown model {excerpt(unknown[0])} (allowed: {', '.join(MODELS)}, all)")
    if order not in (1, 2, 3, 4):
        raise UsageError(f"order={excerpt(order)} (the Markov order must be 1, 2, 3 or 4)")
    if bootstrap < 0 or (bootstrap and rng is None):
        raise UsageError(f"bootstrap={excerpt(bootstrap)} (a number of replicates >= 0, with an rng)")
    if half_life <= 0:
        raise UsageError(f"half_life={excerpt(half_life)} (must be > 0)")
    notes = []
    models = list(dict.fromkeys(models))
    if "shapley-rate" in models and len(table.channels) > SHAPLEY_LIMIT and set(MODELS) <= set(models):
        models.remove("shapley-rate")
        notes.append(f"shapley-rate left out: {len(table.channels)} touchpoints (exact up to {SHAPLEY_LIMIT})")
    # The reader's warning about goals taken by default counts them too (the same condition).
    if table.direct and not (table.goals_by_default and table.direct > table.conversions.sum()):
        notes.append(f"{table.direct:,} conversion{'s' if table.direct != 1 else ''} had no touch before the goal and "
                     "take part in no model")
    warnings = list(table.warnings)
    assumed = [m for m in models if m in ("markov", "shapley-rate")]   # the models that read conversion rates
    if table.conversions_only and assumed:
        models_assume = f"the {' and '.join(assumed)} model{'s assume' if len(assumed) > 1 else ' assumes'}"
        warnings.append(f"the path file has no total_null column, so {models_assume} that no journey ended without "
                        "converting (removal effects and conversion rates then only tell how often a touchpoint is on "
                        "a converting path); add total_null, the journeys that did not convert")
    credit, effects = _point(table, models, order, half_life)
    channels = table.channels
    intervals: dict[str, dict[str, Any]] = {}
    removal_intervals: dict[str, tuple[float, float]] = {}
    removal_value_intervals: dict[str, tuple[float, float]] = {}
    if bootstrap:
        reps = [_point(_replicate(table, rng), models, order, half_life) for _ in range(bootstrap)]
        q = [(1 - _LEVEL) / 2 * 100, (1 + _LEVEL) / 2 * 100]
        for model in models:
            conv = np.percentile([r[0][model][0] for r in reps], q, axis=0)
            val = np.percentile([r[0][model][1] for r in reps], q, axis=0)
            intervals[model] = {c: ((float(conv[0, i]), float(conv[1, i])), (float(val[0, i]), float(val[1, i])))
                                for i, c in enumerate(channels)}
        if "markov" in models:
            re = np.percentile([r[1] for r in reps], q, axis=0)     # (low/high, conversions/value, channel)
            removal_intervals = {c: (float(re[0, 0, i]), float(re[1, 0, i])) for i, c in enumerate(channels)}
            removal_value_intervals = {c: (float(re[0, 1, i]), float(re[1, 1, i])) for i, c in enumerate(channels)}
    parts = []
    if "markov" in models:
        parts.append(f"Markov order {order}: removal effects solved exactly (absorbing chain), conversions shared "
                     "in proportion to the removal effects on conversions, value in proportion to those on "
                     "conversion value (a conversion worth the mean value of the conversions from its last state), "
                     "as ChannelAttribution's total_conversions and total_conversion_value")
    rules = [m for m in models if m not in ("markov", "shapley", "shapley-rate")]
    if rules:
        parts.append(f"{', '.join(rules)}: each path's conversions split by fixed weights"
                     + (f" (time-decay half-life {half_life:g} touches)" if "time-decay" in rules else ""))
    if "shapley" in models:
        parts.append("shapley: count-based Shapley values (Zhao et al. 2018), worth = conversions of the journeys "
                     "using only the coalition's touchpoints: each converting path split equally among its distinct "
                     "touchpoints")
    if "shapley-rate" in models:
        parts.append("shapley-rate: Shapley values exact over all coalitions, worth = conversion rate of the journeys "
                     "using only the coalition's touchpoints (may be negative)")
    method = "; ".join(parts)
    if bootstrap:
        method += f"; {_LEVEL:.0%} percentile intervals from {bootstrap} bootstrap replicates of the journeys"
    return Attribution(
        models={m: {c: (float(credit[m][0][i]), float(credit[m][1][i])) for i, c in enumerate(channels)}
                for m in models},
        removal_effects={c: float(effects[0, i]) for i, c in enumerate(channels)} if "markov" in models else {},
        removal_effects_value=({c: float(effects[1, i]) for i, c in enumerate(channels)} if "markov" in models
                               else {}),
        order=order, conversions=float(table.conversions.sum()), value=float(table.value.sum()),
        journeys=table.journeys, paths=len(table.conversions), bootstrap=bootstrap, intervals=intervals,
        removal_intervals=removal_intervals, removal_value_intervals=removal_value_intervals, notes=tuple(notes),
        method=method, goals=table.goals, goals_by_default=table.goals_by_default, warnings=tuple(warnings),
        dropped=dict(table.dropped), without_user=table.without_user, without_user_row=table.without_user_row)


def read_paths(path: str | os.PathLike, *, goals: Sequence[str] = (), lookback: float | None = None,
               layout: LogLayout | None = None) -> PathTable:
    """Read a path file, or cut an event log (in ``layout``) into journeys (ending at a goal), as a
    :class:`PathTable`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = pathlib.Path(d) / "log.csv"
    ...     _ = log.write_text("user_id,timestamp,touchpoint,value\\n1,2025-01-01,ad,0\\n"
    ...                        "1,2025-01-02,buy,9\\n2,2025-01-01,mail,0\\n")
    ...     t = read_paths(log)
    >>> t.channels, t.conversions.tolist(), t.nulls.tolist(), t.value.tolist(), t.goals
    (('ad', 'mail'), [1.0, 0.0], [0.0, 1.0], [9.0, 0.0], ('buy',))
    """
    if (layout is None or layout == LogLayout()) and (clean := read_clean_path_csv(path)) is not None:
        return require_conversions(clean, path)
    try:
        with connect() as con:
            source = open_source(con, path, layout)
            if source.kind == "paths":
                return read_path_file(con, source)
            # The same row, empty-log and goal checks as fit (and the same default goals).
            agg = aggregate_events(con, source, goals, repeat=False, lookback=NO_WINDOW, unit_seconds=1.0)
            return event_paths(con, source, list(agg.goals), lookback=NO_WINDOW if lookback is None else lookback,
                               by_default=agg.goals_by_default, dropped=agg.dropped,
                               anonymous=(agg.without_user, agg.without_user_row))
    except duckdb.Error as exc:   # a read that fails past the checks (e.g. a bad byte deep in the file)
        raise read_error(str(path), exc) from None


def attribute_file(path: str | os.PathLike, models: Sequence[str] = MODELS, *, goals: Sequence[str] = (),
                   lookback: float | None = None, layout: LogLayout | None = None, **options: Any) -> Attribution:
    """Attribute the conversions of an event log or path file (``journeysim attribute``; ``journeysim.attribute``).

    :func:`attribute_paths` on the file's paths (see :func:`read_paths`).

    Parameters
    ----------
    path : str or os.PathLike
        An event log (CSV or Parquet: ``user_id, timestamp, touchpoint[, value]``) or a
        path file (``path, total_conversions, total_null[, total_conversion_value]``).
    models : sequence of str
        Names from :data:`MODELS`.
    goals : sequence of str
        Event logs: the goal touchpoints (default: those whose events carry a value).
    lookback : float, optional
        Event logs: seconds of inactivity that end a customer's path.
    layout : LogLayout, optional
        Event logs: how an export names its columns, flags conversions, writes times and
        names events (see :class:`~journeysim.logs.layout.LogLayout`).
    **options
        ``order``, ``half_life``, ``bootstrap`` and ``rng`` of :func:`attribute_paths`.

    Returns
    -------
    Attribution

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = pathlib.Path(d) / "paths.csv"
    ...     _ = paths.write_text("path,total_conversions,total_null\\na > b,3,1\\nb,1,3\\n")
    ...     r = attribute_file(paths, ["first", "markov"])
    >>> r.models["first"], r.removal_effects
    ({'a': (3.0, 0.0), 'b': (1.0, 0.0)}, {'a': 0.5, 'b': 1.0})
    """
    return attribute_paths(read_paths(path, goals=goals, lookback=lookback, layout=layout), models, **options)
