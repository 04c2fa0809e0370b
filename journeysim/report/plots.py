"""The report's pictures, drawn with matplotlib's Agg backend into PNG bytes.

Each function takes plain results (no files) and returns a :class:`Plot`:
its PNG, title and caption. Figures are built with :class:`matplotlib.figure.Figure`
directly, never through pyplot, so no global figure state is touched. Every
plot has a title and labelled axes with units.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from journeysim._text import percent_level
from journeysim.engines.compiled import compile_segments
from journeysim.journey import Journey
from journeysim.report.layout import dot_layout

__all__ = ["Plot", "journey_flows", "plot_journey", "plot_funnel", "plot_removal_effects",
           "plot_lift_distribution", "plot_calibration", "plot_daily_series", "plot_removal_effect_changes",
           "plot_traffic_change", "plot_attribution", "plot_edge_check"]

_GOAL, _NODE, _EDGE = "#2a9d8f", "#e9eef5", "#4c6a92"


@dataclass(frozen=True)
class Plot:
    """One picture: ``name`` is its file stem (``name.png``)."""

    name: str
    title: str
    png: bytes
    caption: str = ""
    #: ``(title, x label, y label)`` of each axes drawn, so that readers (and tests) can check them.
    axes: tuple[tuple[str, str, str], ...] = ()


def _plot(name: str, title: str, fig: Figure, caption: str) -> Plot:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script the font lacks (an emoji) is drawn as a box; the page's text carries it in full,
        # so matplotlib's warning would only be noise on the user's terminal.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig.tight_layout()
        FigureCanvasAgg(fig)
        # No timestamps or software tag in the PNG: the same inputs give the same bytes.
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    axes = tuple((ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes)
    return Plot(name, title, buf.getvalue(), caption, axes)


def _legend(ax, below: bool = False) -> None:
    """The legend outside the axes, never over the data: on the right, or ``below`` (where a panel is beside)."""
    if below:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
    else:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def _short(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def journey_flows(journey: Journey) -> dict[tuple[str, str], float]:
    """Expected transitions along each edge per new customer (segments weighted by share).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> journey_flows(j)
    {('ad', 'buy'): 0.25}
    """
    flows: dict[tuple[str, str], float] = {}
    for _, share, chain in compile_segments(journey):
        visits = np.linalg.solve(np.eye(chain.n) - chain.Q.toarray().T, chain.entry)
        coo = chain.Q.tocoo()
        for i, j, p in zip(coo.row, coo.col, coo.data):
            key = (chain.names[i], chain.names[j])
            flows[key] = flows.get(key, 0.0) + float(share * visits[i] * p)
    return flows


def plot_journey(journey: Journey, title: str = "The journey by stage") -> Plot:
    """The journey as a graph, stages left to right, edge width by expected flow.

    Laid out by Graphviz's ``dot`` (:mod:`journeysim.report.layout`): edges are routed around the touchpoints
    they do not touch and self-loops are drawn. Without ``dot`` the touchpoints stand in plain stage columns.
    """
    flows = journey_flows(journey)
    top = max(flows.values(), default=1.0) or 1.0
    labels = {name: _short(name) for name in journey.names}
    layout = dot_layout(journey, flows, labels)
    if layout is None:
        return _plot_journey_columns(journey, flows, top, title)
    fig = Figure(figsize=(min(16.0, max(6.0, layout.width + 0.6)), max(3.0, layout.height + 1.2)))
    ax = fig.add_subplot()
    for (a, b), points in layout.edges.items():
        codes = [Path.MOVETO] + [Path.CURVE4] * (len(points) - 1)
        ax.add_patch(FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>", mutation_scale=9,
                                     linewidth=0.4 + 5 * flows[a, b] / top, color=_EDGE, alpha=0.6, zorder=1))
    for name, (x, y, w, h) in layout.nodes.items():
        goal = journey.touchpoints[name].goal
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                    fc=_GOAL if goal else _NODE, ec="#555555", zorder=2))
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=8, zorder=3,
                color="white" if goal else "black")
    # Each column is named by the stages laid out in it (dot may put two small stages in one rank).
    columns: dict[float, list[str]] = {}
    for stage in journey.stage_names():
        xs = [layout.nodes[n][0] for n, t in journey.touchpoints.items() if t.stage == stage]
        if xs:
            columns.setdefault(round(sum(xs) / len(xs), 1), []).append(_short(stage, 18))
    for x, stages in columns.items():
        ax.text(x, layout.height + 0.25, " / ".join(stages), ha="center", va="bottom", fontsize=8,
                color="#333333", style="italic")
    ax.set_xlim(-0.2, layout.width + 0.2)
    ax.set_ylim(-0.2, layout.height + 0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("stages left to right (layout: Graphviz dot)")
    ax.set_ylabel("touchpoints (position only)")
    ax.set_title(title)
    return _plot("journey", title, fig,
                 f"Edge width: expected transitions per new customer (widest = {top:.3g}); goals in green; stage "
                 "names above their touchpoints; loops drawn where a touchpoint leads back to itself.")


_VERDICT_COLOURS = {"confirmed": "#2a9d8f", "refuted": "#d62828", "inconclusive": "#8d99ae"}


def plot_edge_check(journey: Journey, edges: Sequence, title: str = "The edited edges: predicted and observed"):
    """The part of the map a hypothesis edits, each edge labelled with its predicted interval and observed share.

    ``edges`` are :class:`journeysim.experiments.edges.EdgeResult` s; drop-off edges are left to the table (exit is
    not a touchpoint). Edge colour: the verdict. ``None`` without Graphviz's ``dot``.
    """
    shown = [e for e in edges if e.target in journey.touchpoints and e.source in journey.touchpoints]
    names = list(dict.fromkeys([n for e in shown for n in (e.source, e.target)]))
    if not shown:
        return None
    sub = Journey(touchpoints={n: journey.touchpoints[n] for n in names}, entry={names[0]: 1.0},
                  rows={a: {e.target: journey.rows[a][e.target] for e in shown if e.source == a
                            and e.target in journey.rows.get(a, {})} for a in names},
                  stages=journey.stages)
    flows = {(e.source, e.target): 1.0 for e in shown}
    labels = {name: _short(name) for name in names}
    texts = {(e.source, e.target): f"pred {e.predicted[0]:.3f}-{e.predicted[1]:.3f}   obs "
             + ("-" if e.variant is None else f"{e.variant:.3f}") for e in shown}
    layout = dot_layout(sub, flows, labels, texts)
    if layout is None:
        return None
    fig = Figure(figsize=(min(16.0, max(6.0, layout.width + 2.4)), max(3.0, layout.height + 1.4)))
    ax = fig.add_subplot()
    for e in shown:
        points = layout.edges.get((e.source, e.target))
        if not points:
            continue
        colour = _VERDICT_COLOURS.get(e.verdict, _EDGE)
        codes = [Path.MOVETO] + [Path.CURVE4] * (len(points) - 1)
        ax.add_patch(FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>", mutation_scale=9, linewidth=2.0,
                                     color=colour, alpha=0.85, zorder=1))
        x, y = layout.edge_labels.get((e.source, e.target), points[len(points) // 2])
        ax.text(x, y, texts[e.source, e.target], ha="center", va="center", fontsize=7, color=colour, zorder=4,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
    for name, (x, y, w, h) in layout.nodes.items():
        goal = journey.touchpoints[name].goal
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                    fc=_GOAL if goal else _NODE, ec="#555555", zorder=2))
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=8, zorder=3, color="white" if goal else "black")
    for verdict, colour in _VERDICT_COLOURS.items():
        ax.plot([], [], color=colour, linewidth=2, label=verdict)
    _legend(ax)
    ax.set_xlim(-0.2, layout.width + 0.2)
    ax.set_ylim(-0.2, layout.height + 0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("edited rows, left to right (layout: Graphviz dot)")
    ax.set_ylabel("touchpoints (position only)")
    ax.set_title(title)
    return _plot("edges", title, fig, "Each edited edge of the variant map with the prediction's interval ('pred') "
                 "and the variant arm's observed share ('obs'); colour: the verdict. Drop-off edges are in the table.")


def _plot_journey_columns(journey: Journey, flows, top: float, title: str) -> Plot:
    """The journey in plain stage columns, for a machine without Graphviz."""
    columns = list(journey.stage_names())
    if any(t.stage is None for t in journey.touchpoints.values()):
        columns.append("(no stage)")
    pos = {}
    for x, stage in enumerate(columns):
        members = [n for n, t in journey.touchpoints.items() if (t.stage or "(no stage)") == stage]
        for k, name in enumerate(members):
            pos[name] = (x, (len(members) - 1) / 2 - k)
    height = max(3.5, 1.1 * max((sum(1 for p in pos.values() if p[0] == x) for x in range(len(columns))), default=1))
    fig = Figure(figsize=(max(7.0, 2.4 * len(columns)), height))
    ax = fig.add_subplot()
    for (a, b), flow in flows.items():
        if a == b or flow <= 0:
            continue
        (xa, ya), (xb, yb) = pos[a], pos[b]
        backwards = xb < xa or (xb == xa and yb > ya)
        ax.add_patch(FancyArrowPatch((xa, ya), (xb, yb), arrowstyle="-|>", mutation_scale=10,
                                     connectionstyle=f"arc3,rad={0.35 if backwards else 0.08}",
                                     linewidth=0.4 + 7 * flow / top, color=_EDGE, alpha=0.55,
                                     shrinkA=18, shrinkB=18, zorder=1))
    for name, (x, y) in pos.items():
        goal = journey.touchpoints[name].goal
        ax.text(x, y, _short(name), ha="center", va="center", fontsize=8, zorder=3,
                color="white" if goal else "black",
                bbox={"boxstyle": "round,pad=0.35", "fc": _GOAL if goal else _NODE, "ec": "#555555"})
    ax.set_xlim(-0.7, len(columns) - 0.3)
    ys = [p[1] for p in pos.values()] or [0]
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_xticks(range(len(columns)), [_short(c, 18) for c in columns], fontsize=8)
    ax.set_yticks([])
    ax.set_xlabel("stage (left to right)")
    ax.set_ylabel("touchpoints of the stage (position only)")
    ax.set_title(title)
    return _plot("journey", title, fig,
                 f"Edge width: expected transitions per new customer (widest = {top:.3g}); goals in green. "
                 "(Install Graphviz for a layout that routes edges around the touchpoints.)")


def plot_funnel(stage_reach: Mapping[str, float], funnel: Mapping[str, float] | None = None,
                title: str = "Funnel by stage") -> Plot:
    """The funnel: share of new customers reaching each stage or a later one, with the loss from the stage before.

    The funnel never rises, so no loss is negative, even where customers skip a stage; dots mark
    the share visiting the stage itself (``stage_reach``). Without a ``funnel`` (an engine that
    does not compute it) the bars are the stage reach.
    """
    stages = list(stage_reach)
    fig = Figure(figsize=(7, 0.5 * len(stages) + 1.6))
    ax = fig.add_subplot()
    reach = [100 * stage_reach[s] for s in stages]
    if funnel is None:
        bars = ax.barh(range(len(stages)), reach, color=_EDGE)
        ax.bar_label(bars, labels=[f"{v:.1f}%" for v in reach], padding=3, fontsize=8)
        caption = "Probability that a new customer reaches each stage at least once."
        xlabel = "new customers reaching the stage (%)"
    else:
        values = [100 * funnel[s] for s in stages]
        lost = [None, *(max(a - b, 0.0) for a, b in zip(values, values[1:]))]
        bars = ax.barh(range(len(stages)), values, color=_EDGE, label="this stage or a later one")
        ax.bar_label(bars, padding=3, fontsize=8,
                     labels=[f"{v:.1f}%" + ("" if d is None else f"  (-{d:.1f})") for v, d in zip(values, lost)])
        ax.plot(reach, range(len(stages)), "o", color=_GOAL, markersize=5, label="this stage itself")
        _legend(ax, below=True)
        caption = ("Bars: probability that a new customer reaches the stage or a later one (it never rises; "
                   "in brackets the percentage points lost since the stage before). Dots: the stage itself "
                   "(customers may skip a stage).")
        xlabel = "new customers reaching the stage or a later one (%)"
    ax.set_yticks(range(len(stages)), [_short(s) for s in stages])
    ax.invert_yaxis()
    ax.set_xlim(0, 125)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("stage")
    ax.set_title(title)
    return _plot("funnel", title, fig, caption)


def plot_removal_effects(effects: Mapping[str, float], title: str = "Removal effects", top: int = 15,
                         on_value: Mapping[str, float] | None = None) -> Plot:
    """The largest removal effects, as a share of conversions lost (and of value per seed customer, when given)."""
    on_value = on_value or {}
    names = sorted(effects, key=lambda n: -max(effects[n], on_value.get(n, 0.0)))[:top]
    fig = Figure(figsize=(7, (0.6 if on_value else 0.4) * len(names) + 1.6))
    ax = fig.add_subplot()
    values = [100 * effects[n] for n in names]
    height = 0.4 if on_value else 0.8
    shift = -height / 2 if on_value else 0.0
    bars = ax.barh([i + shift for i in range(len(names))], values, height=height, color=_GOAL, label="conversion")
    ax.bar_label(bars, labels=[f"{v:.1f}%" for v in values], padding=3, fontsize=8)
    top_value = max([*values, 1.0])
    if on_value:
        worth = [100 * on_value.get(n, 0.0) for n in names]
        more = ax.barh([i + height / 2 for i in range(len(names))], worth, height=height, color=_EDGE,
                       label="value per seed customer")
        ax.bar_label(more, labels=[f"{v:.1f}%" for v in worth], padding=3, fontsize=8)
        _legend(ax, below=True)
        top_value = max(top_value, *worth)
    ax.set_yticks(range(len(names)), [_short(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, top_value * 1.2)
    ax.set_xlabel("lost if the touchpoint is removed (%)")
    ax.set_ylabel("touchpoint")
    ax.set_title(title)
    what = ("Relative drop in the conversion rate, and in value per seed customer (repeat purchases and referrals "
            "included), when the touchpoint is removed." if on_value else
            "Relative drop in the conversion rate when the touchpoint is removed (Markov removal effect).")
    return _plot("removal_effects", title, fig, what)


def plot_lift_distribution(draws: Sequence[float], interval: tuple[float, float], *, metric: str, level: float,
                           observed: float | None = None, observed_interval: tuple[float, float] | None = None,
                           title: str = "Predicted lift and the A/B result") -> Plot:
    """Histogram of the predicted relative lift with its interval, and the observed lift (with its own) over it."""
    fig = Figure(figsize=(10, 4))           # room for the legend beside the histogram
    ax = fig.add_subplot()
    draws = 100 * np.asarray(draws, dtype=float)
    if draws.size and np.ptp(draws) > 0:
        ax.hist(draws, bins=min(60, max(10, draws.size // 40)), color=_NODE, edgecolor=_EDGE, density=True,
                label="predicted lift (draws)")
    lo, hi = 100 * interval[0], 100 * interval[1]
    ax.axvspan(lo, hi, color=_EDGE, alpha=0.15, label=f"predicted {percent_level(level)} interval [{lo:.2f}, {hi:.2f}]")
    ax.axvline(0, color="#888888", linewidth=0.8)
    if observed is not None:
        ax.axvline(100 * observed, color="#d1495b", linewidth=2, label=f"observed lift {100 * observed:.2f}")
        if observed_interval is not None:
            olo, ohi = 100 * observed_interval[0], 100 * observed_interval[1]
            ax.hlines(ax.get_ylim()[1] * 0.5, olo, ohi, color="#d1495b", linewidth=3,
                      label=f"observed interval [{olo:.2f}, {ohi:.2f}]")
    ax.set_xlabel(f"relative lift in {metric} (%, variant over baseline)")
    ax.set_ylabel("density of predicted draws (per % of lift)")
    ax.set_title(title)
    _legend(ax)
    return _plot("lift", title, fig, "Predicted relative lift: histogram of the draws and the predicted interval"
                 + ("; the A/B test's observed lift and its interval in red." if observed is not None else "."))


def plot_calibration(predicted: Sequence[float], observed: Sequence[float], lower: Sequence[float],
                     upper: Sequence[float], inside: Sequence[bool], *,
                     observed_interval: tuple[Sequence[float], Sequence[float]] | None = None,
                     z: Sequence[float] | None = None, title: str = "Calibration of the predictions") -> Plot:
    """Observed against predicted relative lift, one point per checked experiment, with predicted intervals.

    With ``observed_interval`` (lows, highs) each point also shows the test's interval; with
    ``z`` (the gaps' z-scores) a second panel sets their histogram beside N(0, 1), which a
    calibrated ledger follows.
    """
    predicted, observed = 100 * np.asarray(predicted, float), 100 * np.asarray(observed, float)
    lower, upper = 100 * np.asarray(lower, float), 100 * np.asarray(upper, float)
    inside = np.asarray(inside, bool)
    fig = Figure(figsize=(11, 6) if z is not None else (6.5, 6.5))
    ax = fig.add_subplot(1, 2, 1) if z is not None else fig.add_subplot()
    ax.hlines(observed, lower, upper, color="#aaaaaa", linewidth=2, label="predicted interval")
    if observed_interval is not None:
        low, high = (100 * np.asarray(v, float) for v in observed_interval)
        ax.vlines(predicted, low, high, color="#cccccc", linewidth=1.5, label="observed interval")
    ax.scatter(predicted[inside], observed[inside], color=_GOAL, zorder=3, label="observed inside the interval")
    ax.scatter(predicted[~inside], observed[~inside], color="#d1495b", zorder=3, label="observed outside")
    span = np.concatenate([predicted, observed, lower, upper, [0.0]])
    lo, hi = float(span.min()), float(span.max())
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#555555", linestyle="--", label="perfect calibration")
    ax.set_xlabel("predicted relative lift (%)")
    ax.set_ylabel("observed relative lift (%)")
    ax.set_title(title)
    _legend(ax, below=True)
    if z is not None:
        from scipy.stats import norm

        z = np.asarray(z, float)
        hx = fig.add_subplot(1, 2, 2)
        hx.hist(z, bins=max(5, min(20, z.size)), density=True, color=_EDGE, alpha=0.6, label="z of the gaps")
        grid = np.linspace(min(-3.5, z.min()), max(3.5, z.max()), 200)
        hx.plot(grid, norm.pdf(grid), color="#555555", label="N(0, 1): calibrated")
        hx.set_xlabel("(predicted - observed) / combined sd")
        hx.set_ylabel("density")
        hx.set_title("Gaps between predicted and observed")
        _legend(hx, below=True)
    return _plot("calibration", title, fig, f"{int(inside.sum())} of {inside.size} observed lifts fell inside "
                 "their predicted interval (the dashed line is a perfect prediction).")


def plot_daily_series(days: Sequence[float], series: Mapping[str, Sequence[float]], *,
                      unit: str = "customers (count)", title: str = "Daily series (agent engine)") -> Plot:
    """One line per daily quantity of the agent engine's run."""
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    for label, values in series.items():
        ax.plot(days, values, label=_short(label, 30), linewidth=1.4)
    ax.set_xlabel("day of the run (days)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    _legend(ax)
    return _plot("daily", title, fig, "Daily totals of the agent-based run.")


def plot_removal_effect_changes(changes: Sequence[tuple[str, float, tuple[float, float], str]],
                                title: str = "Change in removal effects") -> Plot:
    """Per touchpoint: the change in removal effect with its interval, coloured by verdict.

    ``changes`` holds ``(name, change, (low, high), verdict)``.
    """
    fig = Figure(figsize=(7.5, 0.45 * len(changes) + 1.8))
    ax = fig.add_subplot()
    colours = {"strengthened": _GOAL, "weakened": "#e76f51", "no longer contributes": "#d1495b",
               "new drop-off point": "#d1495b"}
    for k, (name, change, (lo, hi), verdict) in enumerate(changes):
        c = colours.get(verdict, _EDGE)
        # The point estimate may sit outside a posterior interval near 0 or 1: draw them separately.
        ax.hlines(k, 100 * lo, 100 * hi, color=c, linewidth=2)
        ax.plot([100 * change], [k], "o", color=c)
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.set_yticks(range(len(changes)), [f"{_short(n)} ({v})" for n, _, _, v in changes], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("new minus old removal effect (percentage points of conversions)")
    ax.set_ylabel("touchpoint (verdict)")
    ax.set_title(title)
    return _plot("removal_effect_changes", title, fig,
                "Points: change in removal effect; bars: its interval from posterior draws of both maps.")


def plot_traffic_change(traffic: Sequence[tuple[str, float, float]], title: str = "Traffic, old and new") -> Plot:
    """Grouped bars of the customers observed at each touchpoint in each year (``(name, old, new)``)."""
    fig = Figure(figsize=(7.5, 0.5 * len(traffic) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(traffic))
    ax.barh(y - 0.2, [t[1] for t in traffic], height=0.4, color="#b8c4d6", label="old")
    ax.barh(y + 0.2, [t[2] for t in traffic], height=0.4, color=_EDGE, label="new")
    ax.set_yticks(y, [_short(t[0]) for t in traffic], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("visits observed (customers departing the touchpoint)")
    ax.set_ylabel("touchpoint")
    ax.set_title(title)
    _legend(ax)
    return _plot("traffic", title, fig, "Observed departures from each touchpoint; a missing bar is zero "
                "(the touchpoint did not exist that year).")


def plot_attribution(models: Mapping[str, Mapping[str, float]], title: str = "Attributed conversions by model",
                     top: int = 12) -> Plot:
    """Grouped bars: conversions credited to each touchpoint under each model (``models[model][touchpoint]``)."""
    totals: dict[str, float] = {}
    for credit in models.values():
        for tp, x in credit.items():
            totals[tp] = totals.get(tp, 0.0) + x
    names = sorted(totals, key=lambda tp: -totals[tp])[:top]
    fig = Figure(figsize=(8, 0.32 * len(names) * max(1, len(models)) / 2 + 2))
    ax = fig.add_subplot()
    height = 0.8 / max(1, len(models))
    for k, (model, credit) in enumerate(models.items()):
        ax.barh(np.arange(len(names)) + k * height - 0.4 + height / 2, [credit.get(n, 0.0) for n in names],
                height=height, label=model)
    ax.set_yticks(range(len(names)), [_short(n) for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("attributed conversions (count)")
    ax.set_ylabel("touchpoint")
    ax.set_title(title)
    _legend(ax)
    return _plot("attribution", title, fig, "Conversions credited to each touchpoint, one bar per model.")
