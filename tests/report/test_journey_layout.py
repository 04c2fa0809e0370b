"""The journey picture: laid out by Graphviz's dot, edges never drawn through a touchpoint they do not touch,
self-loops drawn; the agent report says where the customers went."""

import shutil

import numpy as np
import pytest

from journeysim import load_journey, simulate_agents
from journeysim.journey import Journey
from journeysim.report import render_markdown, simulate_report
from journeysim.report.layout import dot_layout, dot_source
from journeysim.report.plots import journey_flows

from tests.conftest import BUNDLED_MAPS, SCENARIOS

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (.ci/run installs Debian's graphviz)")


def bezier(points, steps=40):
    """Points along a cubic B-spline given as dot's control points (1 + 3k of them)."""
    p = np.asarray(points)
    t = np.linspace(0, 1, steps)[:, None]
    for k in range(0, len(p) - 1, 3):
        a, b, c, d = p[k:k + 4]
        yield from (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d


@needs_dot
@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.stem)
def test_edges_do_not_cross_touchpoints_they_do_not_touch(path):
    journey = load_journey(path)
    flows = journey_flows(journey)
    layout = dot_layout(journey, flows, {n: n for n in journey.names})
    assert set(layout.edges) == {e for e, f in flows.items() if f > 0}
    for (a, b), points in layout.edges.items():
        for name, (x, y, w, h) in layout.nodes.items():
            if name in (a, b):
                continue
            inside = [(px, py) for px, py in bezier(points)
                      if abs(px - x) < w / 2 - 0.02 and abs(py - y) < h / 2 - 0.02]
            assert inside == [], f"{path.name}: edge {a} -> {b} runs through {name}"


@needs_dot
def test_self_loops_are_drawn_and_stages_read_left_to_right():
    journey = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    flows = journey_flows(journey)
    assert ("newsletter", "newsletter") in flows
    layout = dot_layout(journey, flows, {n: n for n in journey.names})
    loop = layout.edges["newsletter", "newsletter"]
    assert len(loop) >= 4                                              # a curve that leaves and comes back
    x = {stage: np.mean([layout.nodes[n][0] for n, t in journey.touchpoints.items() if t.stage == stage])
         for stage in journey.stage_names()}
    order = list(journey.stage_names())
    assert all(x[a] <= x[b] for a, b in zip(order, order[1:]))


def test_dot_source_quotes_names():
    j = Journey.from_rows({'say "hi" \\ now': 1.0}, {'say "hi" \\ now': {"buy": 0.5}}, goals=["buy"])
    source = dot_source(j, journey_flows(j), {n: n for n in j.names})
    assert 'n0 [label="say \\"hi\\" \\\\ now"];' in source


def test_without_dot_the_picture_falls_back_to_columns(monkeypatch, online_store):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    report = simulate_report(online_store, __import__("journeysim").solve_exact(online_store))
    journey_plot = next(p for p in report.plots if p.name == "journey")
    assert "Install Graphviz" in journey_plot.caption and journey_plot.png.startswith(b"\x89PNG")


def test_the_agent_report_says_where_the_customers_went():
    journey = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    run = simulate_agents(journey, 5, rng=np.random.default_rng(1))
    markdown = render_markdown(simulate_report(journey, run, run.daily))
    assert "## Customers and touchpoints" in markdown
    skipped = run.touchpoints["search ad"]["skipped"]
    assert skipped > 0 and f"| turned away at entry (budget spent) | {skipped:,} |" in markdown
    chat = run.touchpoints["live chat"]
    assert f"| live chat | {chat['visits']:,} | 0 | {chat['abandoned']:,} |" in markdown
