"""Report builders: one function per command, from its results to a :class:`Report`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from journeysim._text import count, fmt, money
from journeysim.engines.metrics import JourneyMetrics
from journeysim.journey import Journey
from journeysim.reevaluation import PeriodReevaluation, Reevaluation
from journeysim.report.document import Report, Section, Table
from journeysim.report.plots import (
    plot_attribution,
    plot_daily_series,
    plot_funnel,
    plot_journey,
    plot_removal_effect_changes,
    plot_removal_effects,
    plot_traffic_change,
)

if TYPE_CHECKING:  # the attribution module pulls in DuckDB; reports on maps should not need it
    from journeysim.attribution.credit import Attribution

__all__ = ["simulate_report", "reevaluate_report", "attribute_report"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _count(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _losses(funnel: Mapping[str, float | None]) -> list[float | None]:
    """Share lost from each stage to the next (never negative: the funnel never rises)."""
    values = list(funnel.values())
    return [None, *(None if a is None or b is None else max(a - b, 0.0) for a, b in zip(values, values[1:]))]


def simulate_report(journey: Journey, metrics: JourneyMetrics, daily: Sequence[Mapping[str, Any]] = ()) -> Report:
    """What a map implies: the journey drawn by stage, its funnel and its removal effects.

    ``daily`` holds the agent engine's daily rows (``day``, ``arrivals``, ``conversions``,
    ``in_journey``...), drawn as a daily series when given.

    Examples
    --------
    >>> from journeysim import solve_exact
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> r = simulate_report(j, solve_exact(j))
    >>> r.facts[0], [p.name for p in r.plots]
    (('conversion rate', '25.00%'), ['journey', 'removal_effects'])
    """
    unit = metrics.time_unit
    facts = (
        ("conversion rate", _pct(metrics.conversion_rate)),
        ("expected conversions per customer", fmt(metrics.expected_conversions)),
        ("expected value per customer", money(metrics.expected_value, metrics.currency)),
        ("expected touches per customer", fmt(metrics.expected_touches)),
        (f"mean time to conversion ({unit}s)", fmt(metrics.expected_time_to_conversion)),
        ("referrals per customer (K)", fmt(metrics.referrals)),
        ("engine", metrics.engine),
    )
    sections = [Section("The journey", (f"{len(journey.names)} touchpoints, {len(journey.goals)} goal(s), "
                                        f"{len(journey.segments) or 'no'} segments; delays in {unit}s.",),
                        plots=(plot_journey(journey),))]
    if metrics.stage_reach:
        funnel = metrics.funnel or None
        if funnel is None:
            rows = tuple((s, _pct(r)) for s, r in metrics.stage_reach.items())
            headers = ("stage", "reach")
        else:
            rows = tuple((s, _pct(r), _pct(funnel.get(s)), "-" if i == 0 else _pct(lost)) for i, (s, r, lost) in
                         enumerate(zip(metrics.stage_reach, metrics.stage_reach.values(), _losses(funnel))))
            headers = ("stage", "reach", "this stage or later", "lost since previous")
        # An agent run in which nobody arrived has no reach to draw (undefined, not 0).
        drawable = None not in metrics.stage_reach.values()
        sections.append(Section("Funnel by stage", () if drawable else ("No customers arrived: reach is undefined.",),
                                tables=(Table(headers, rows),),
                                plots=(plot_funnel(metrics.stage_reach, funnel),) if drawable else ()))
    if metrics.removal_effects:
        on_value = metrics.removal_effects_value or {}
        ranked = sorted(metrics.removal_effects, key=lambda n: -max(metrics.removal_effects[n], on_value.get(n) or 0.0))
        rows = tuple((n, _pct(metrics.removal_effects[n]), _pct(on_value.get(n)), _pct(metrics.visit_rate.get(n)))
                     for n in ranked)
        sections.append(Section("Removal effects", ("Share of conversions, and of value per seed customer (repeat "
                                                    "purchases and referrals included), lost if the touchpoint "
                                                    "were removed.",),
                                tables=(Table(("touchpoint", "on conversion", "on value per seed", "visit rate"),
                                              rows),),
                                plots=(plot_removal_effects(metrics.removal_effects, on_value=on_value),)))
    touchpoints = getattr(metrics, "touchpoints", None)      # an agent run's queues, budgets and waits
    if touchpoints:
        sections.append(_agent_section(metrics, touchpoints))
    if daily:
        labels = {"arrivals": "arrivals per day", "conversions": "conversions per day",
                  "in_journey": "in the journey at day's end"}  # short enough for the legend (30 characters)
        series = {label: [row[k] for row in daily] for k, label in labels.items() if k in daily[0]}
        sections.append(Section("Day by day", (f"{len(daily)} days simulated by the agent engine.",),
                                plots=(plot_daily_series([row["day"] for row in daily], series),)))
    return Report("simulate", journey.name or "Journey", facts, tuple(sections),
                  (metrics.method,) if metrics.method else ())


def _agent_section(run, touchpoints: Mapping[str, Mapping[str, Any]]) -> Section:
    """Where an agent run's customers went, and what each touchpoint's queue and budget did."""
    skipped = sum(t["skipped"] for t in touchpoints.values())
    turned_away = getattr(run, "turned_away", 0)
    counts = (
        ("arrived", count(run.arrived)), ("turned away at entry (budget spent)", count(turned_away)),
        ("converted", count(run.converted)), ("revenue", money(run.revenue, run.currency)),
        ("exited", count(run.exited)), ("of whom sent to a spent budget", count(skipped - turned_away)),
        ("abandoned a queue", count(run.abandoned)), ("still in the journey", count(run.in_journey)),
    )
    rows = tuple((name, count(t["visits"]), count(t["skipped"]),
                  count(t["abandoned"]) if t["utilisation"] is not None else "-",
                  fmt(t["mean_wait"]) if t["utilisation"] is not None else "-", _pct(t["utilisation"]),
                  money(t["spend"], run.currency)) for name, t in touchpoints.items())
    return Section("Customers and touchpoints",
                   ("Turned away: new customers who never arrived because the entry's budget was spent (not counted "
                    "in the rates). Skipped: visits not shown because the touchpoint's budget was spent. Abandoned: "
                    "customers who gave up waiting for a server; wait: mean time to reach one; utilisation: the "
                    "servers' busy share of the run.",),
                   tables=(Table(("customers", "count"), counts),
                           Table(("touchpoint", "visits", "skipped", "abandoned", f"wait ({run.time_unit}s)",
                                  "utilisation", "spend"), rows)))


def _goals(goals: Sequence[str], by_default: bool) -> tuple[tuple[str, str], ...]:
    """The goals as a fact of a report on event logs (none for maps or path files that name none)."""
    if not goals:
        return ()
    return (("goals", ", ".join(goals) + (" (taken by default: the touchpoints whose events carry a value)"
                                          if by_default else "")),)


def _notes(result: Reevaluation | PeriodReevaluation) -> tuple[str, ...]:
    return (*(f"warning: {w}" for w in result.warnings), *(f"{k}: {v}" for k, v in result.method.items()))


def _ranked(result: Reevaluation) -> Section:
    rows = []
    for rank, name in enumerate(result.ranking, 1):
        c = result.touchpoints[name]
        ci = c.removal_effect_change_ci
        rows.append((str(rank), name, c.verdict, fmt(c.qvalue), _pct(c.removal_effect_old), _pct(c.removal_effect_new),
                     f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}] pp" if ci else "-",
                     _count(c.traffic_old), _count(c.traffic_new)))
    where = f"Segment {result.segment}: what" if result.segment is not None else "What"
    pair = f" ({result.old_name} → {result.new_name})" if result.old_name and result.new_name else ""
    return Section(f"{where} to look at first{pair}",
                   (f"Rows compared with a chi-square test of homogeneity, false discovery rate {result.alpha:g} "
                    f"(Benjamini-Hochberg); intervals at {100 * result.level:g}%. Inconclusive: no change detected, "
                    f"but a change interval wider than {result.precision:g}, so the data cannot say it still works.",),
                   tables=(Table(("#", "touchpoint", "verdict", "q-value", "removal effect old", "removal effect new",
                                  "change interval", "traffic old", "traffic new"), rows),))


def _pair_sections(result: Reevaluation, new: Journey) -> tuple[Section, ...]:
    changes = [(n, c.removal_effect_change, c.removal_effect_change_ci, c.verdict)
               for n in result.ranking if (c := result.touchpoints[n]).removal_effect_change_ci is not None]
    traffic = [(n, c.traffic_old or 0.0, c.traffic_new or 0.0) for n, c in result.touchpoints.items()]
    pictures = ((plot_removal_effect_changes(changes),) if changes else ()) + (plot_traffic_change(traffic),)
    plots = Section("Removal effects and traffic", plots=pictures)
    drawn = Section("This year's journey", plots=(plot_journey(new, "This year's journey by stage"),))
    return (_ranked(result), *(_ranked(s) for s in result.segments.values()), plots, drawn)


def reevaluate_report(result: Reevaluation | PeriodReevaluation, new: Journey) -> Report:
    """Last year against this year (or several periods: the trends, then each pair): the ranked list,
    removal-effect changes, traffic and the newest map.

    Examples
    --------
    >>> import numpy as np
    >>> from journeysim.reevaluation import reevaluate
    >>> old = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.2}}, goals=["buy"],
    ...                         observations={"ad": 2000, "page": 1000, "entry": 2000})
    >>> r = reevaluate_report(reevaluate(old, old, rng=np.random.default_rng(0), draws=10), old)
    >>> [p.name for p in r.plots]
    ['removal_effect_changes', 'traffic', 'journey']
    """
    if isinstance(result, PeriodReevaluation):
        return _periods_report(result, new)
    facts = (
        *_goals(result.goals, result.goals_by_default),
        ("conversion rate, old", _pct(result.conversion_old)),
        ("conversion rate, new", _pct(result.conversion_new)),
        ("p-value of the change (two-proportion z-test)", fmt(result.conversion_pvalue)),
        ("customers observed, old / new", f"{_count(result.customers_old)} / {_count(result.customers_new)}"),
    )
    title = f"Re-evaluation: {result.old_name or 'old map'} → {result.new_name or 'new map'}"
    return Report("reevaluate", title, facts, _pair_sections(result, new), _notes(result))


def _periods_report(result: PeriodReevaluation, new: Journey) -> Report:
    arrow = " → ".join
    facts = (("periods", arrow(result.periods)), *_goals(result.goals, result.goals_by_default),
             ("conversion rate", arrow(_pct(c) for c in result.conversion)),
             ("p-value of a trend in conversion (Cochran-Armitage)", fmt(result.conversion_trend_pvalue)),
             ("customers observed", arrow(_count(c) for c in result.customers)))
    rows = [(n, t.verdict, fmt(t.qvalue), arrow(_pct(x) for x in t.removal_effects), arrow(_pct(x) for x in t.dropoff))
            for n, t in result.trends.items()]
    trends = Section("Trends over the periods",
                     (f"A score test for a linear trend in each touchpoint's row over the periods, false discovery "
                      f"rate {result.alpha:g} (Benjamini-Hochberg); rising or falling says where its removal effect "
                      "went.",),
                     tables=(Table(("touchpoint", "trend", "q-value", "removal effect", "drop-off"), rows),))
    pairs = tuple(s for pair in result.pairs[:-1] for s in (_ranked(pair), *map(_ranked, pair.segments.values())))
    title = f"Re-evaluation over {len(result.periods)} periods: {arrow(result.periods)}"
    return Report("reevaluate", title, facts, (trends, *pairs, *_pair_sections(result.pairs[-1], new)),
                  _notes(result))


def attribute_report(attribution: Attribution, source: str) -> Report:
    """Attributed conversions under each model side by side, and the Markov removal effects."""
    facts = (("input", source), ("journeys", fmt(attribution.journeys)), ("distinct paths", fmt(attribution.paths)),
             ("conversions", fmt(attribution.conversions)), ("value", fmt(attribution.value)),
             ("Markov order", str(attribution.order)), *_goals(attribution.goals, attribution.goals_by_default))
    conversions = {m: {tp: c for tp, (c, _) in credit.items()} for m, credit in attribution.models.items()}
    names = sorted({tp for credit in conversions.values() for tp in credit},
                   key=lambda tp: -attribution.removal_effects.get(tp, 0.0))
    rows = tuple((tp, *(fmt(conversions[m].get(tp)) for m in conversions)) for tp in names)
    sections = [Section("Attributed conversions", tables=(Table(("touchpoint", *conversions), rows),),
                        plots=(plot_attribution(conversions),))]
    if attribution.removal_effects:
        sections.append(Section("Markov removal effects", plots=(plot_removal_effects(attribution.removal_effects),)))
    warned = tuple(f"warning: {w}" for w in attribution.warnings)
    return Report("attribute", f"Attribution: {source}", facts, tuple(sections),
                  (*warned, *attribution.notes, *((attribution.method,) if attribution.method else ())))
