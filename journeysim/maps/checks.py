"""Structural checks of a journey graph: goals, reachability and loops with no way out.

Examples
--------
>>> from journeysim.journey import Journey
>>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"a": 0.5}, "a": {"b": 1.0}, "b": {"a": 1.0}}, goals=["ad"])
>>> structure_problems(j)
[('error', "touchpoints 'a', 'b'", 'customers who reach them never leave (their rows send everyone around a loop with no drop-off; give one of them an exit)')]
"""

from __future__ import annotations

import networkx as nx

from journeysim.journey import Journey

__all__ = ["structure_problems", "trapped_touchpoints", "EXIT_EPSILON"]

#: A row whose drop-off is below this counts as having none (row sums are checked to 1e-9).
EXIT_EPSILON = 1e-12


def _names(names) -> str:
    names = list(names)
    quoted = ", ".join(repr(n) for n in names)
    return f"touchpoint {quoted}" if len(names) == 1 else f"touchpoints {quoted}"


def trapped_touchpoints(journey: Journey) -> list[list[str]]:
    """Groups of touchpoints from which no customer can ever drop off (ignoring segments).

    Each group is a strongly connected set, in map order.
    """
    g = nx.DiGraph()
    g.add_nodes_from(journey.names)
    g.add_edges_from((a, b) for a, row in journey.rows.items() for b, e in row.items() if e.p > 0)
    can_leave = {n for n in journey.names if journey.exit_probability(n) > EXIT_EPSILON}
    # Everything that can reach a touchpoint with a drop-off escapes: one backward search from all of them
    # (a search per touchpoint cost O(n * edges), a tenth of a second at 100 touchpoints).
    escape = set(can_leave)
    frontier = list(can_leave)
    while frontier:
        for before in g.predecessors(frontier.pop()):
            if before not in escape:
                escape.add(before)
                frontier.append(before)
    trapped = set(journey.names) - escape
    order = {n: i for i, n in enumerate(journey.names)}
    groups = [sorted(c, key=order.get) for c in nx.strongly_connected_components(g.subgraph(trapped))]
    # Only report the closed groups: the rest are trapped because they lead into one.
    closed = [c for c in groups if not any(b not in c for a in c for b in g.successors(a))]
    return sorted(closed, key=lambda c: order[c[0]])


def structure_problems(journey: Journey) -> list[tuple[str, str, str]]:
    """``(kind, where, message)`` for every structural problem; kind is ``error`` or ``warning``."""
    problems = []
    if not journey.goals:
        problems.append(("error", "", "no touchpoint has 'goal: true' (mark at least one conversion touchpoint)"))
    for segment, _, j in journey.segment_journeys():
        prefix = f"segment {segment!r}: " if segment is not None else ""
        for group in trapped_touchpoints(j):
            problems.append(("error", prefix + _names(group),
                             "customers who reach them never leave (their rows send everyone around a loop "
                             "with no drop-off; give one of them an exit)"))
    reachable = journey.reachable()
    for goal in journey.goals:
        if goal not in reachable:
            problems.append(("error", f"touchpoint {goal!r}", "this goal cannot be reached from entry"))
    for name in journey.names:
        if name not in reachable and not journey.touchpoints[name].goal:
            problems.append(("warning", f"touchpoint {name!r}", "can never be reached from entry"))
    return problems
