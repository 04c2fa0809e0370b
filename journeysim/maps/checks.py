"""Structural checks of a journey graph: goals, reachability and loops with no way out.

Examples
--------
>>> from journeysim.journey import Journey
>>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"a": 0.5}, "a": {"b": 1.0}, "b": {"a": 1.0}}, goals=["ad"])
>>> structure_problems(j)
[('error', "touchpoints 'a', 'b'", 'customers who reach them never leave (their rows send everyone around a loop with no drop-off; give one of them an exit)')]
"""

from __future__ import annotations

from journeysim._graph import Graph
from journeysim.errors import excerpt
from journeysim.journey import Journey

__all__ = ["structure_problems", "trapped_touchpoints", "EXIT_EPSILON"]

#: A row whose drop-off is below this counts as having none (row sums are checked to 1e-9).
EXIT_EPSILON = 1e-12


def _names(names) -> str:
    names = list(names)
    quoted = ", ".join(excerpt(n) for n in names)
    return f"touchpoint {quoted}" if len(names) == 1 else f"touchpoints {quoted}"


def trapped_touchpoints(journey: Journey) -> list[list[str]]:
    """Groups of touchpoints from which no customer can ever drop off (ignoring segments).

    Each group is a strongly connected set, in map order. One backward search from the
    touchpoints with a drop-off finds every touchpoint that can still leave; the rest are
    trapped, and of their strongly connected components only the closed ones are reported
    (the others are trapped because they lead into one): linear in the edges.
    """
    names = journey.names
    g = Graph(names, journey.rows)
    can_leave = [i for i, n in enumerate(names) if journey.exit_probability(n) > EXIT_EPSILON]
    trapped = [not ok for ok in g.reached(can_leave, backwards=True)]
    if not any(trapped):
        return []
    labels = g.components()
    leads_on = {labels[a] for a, b in g.edges if labels[a] != labels[b]}
    groups: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        if trapped[i] and labels[i] not in leads_on:
            groups.setdefault(labels[i], []).append(name)
    return list(groups.values())    # in map order: each group starts where its first touchpoint does


def structure_problems(journey: Journey) -> list[tuple[str, str, str]]:
    """``(kind, where, message)`` for every structural problem; kind is ``error`` or ``warning``."""
    problems = []
    if not journey.goals:
        problems.append(("error", "", "no touchpoint has 'goal: true' (mark at least one conversion touchpoint)"))
    for segment, _, j in journey.segment_journeys():
        prefix = f"segment {excerpt(segment)}: " if segment is not None else ""
        for group in trapped_touchpoints(j):
            problems.append(("error", prefix + _names(group),
                             "customers who reach them never leave (their rows send everyone around a loop "
                             "with no drop-off; give one of them an exit)"))
    reachable = journey.reachable()
    for goal in journey.goals:
        if goal not in reachable:
            problems.append(("error", f"touchpoint {excerpt(goal)}", "this goal cannot be reached from entry"))
    for name in journey.names:
        if name not in reachable and not journey.touchpoints[name].goal:
            problems.append(("warning", f"touchpoint {excerpt(name)}", "can never be reached from entry"))
    return problems
