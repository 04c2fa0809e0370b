"""Reachability and strongly connected components of a touchpoint graph, in time linear in its edges.

The map checks run on every map a command reads, so they must not be quadratic: one
breadth-first search per question and one strongly-connected-components pass, never a
search per touchpoint. The searches are plain Python over adjacency lists (a command
that reads a valid map loads no numpy for them); the components, needed only to report
trapped touchpoints, come from ``scipy.sparse.csgraph``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["Graph"]


class Graph:
    """The touchpoints ``0..n-1`` and the edges of positive probability of one set of rows.

    Examples
    --------
    >>> from journeysim.journey import Edge
    >>> g = Graph(["ad", "page", "buy"], {"ad": {"page": Edge(0.5)}, "page": {"ad": Edge(0.2), "buy": Edge(0.0)}})
    >>> g.reached([0]), g.reached([1], backwards=True)
    ([True, True, False], [True, True, False])
    >>> labels = g.components()
    >>> labels[0] == labels[1] != labels[2]
    True
    """

    def __init__(self, names: Iterable[str], rows: Mapping[str, Mapping]):
        self.names = tuple(names)
        index = {name: i for i, name in enumerate(self.names)}
        self.edges = [(index[a], index[b]) for a, row in rows.items() if a in index
                      for b, edge in row.items() if edge.p > 0 and b in index]

    def reached(self, sources: Iterable[int], backwards: bool = False) -> list[bool]:
        """Which touchpoints a walk from any of ``sources`` reaches (``backwards``: which reach a source)."""
        out: list[list[int]] = [[] for _ in self.names]
        for a, b in self.edges:
            (out[b] if backwards else out[a]).append(a if backwards else b)
        seen = [False] * len(self.names)
        stack = []
        for s in sources:
            if not seen[s]:
                seen[s] = True
                stack.append(s)
        while stack:
            for b in out[stack.pop()]:
                if not seen[b]:
                    seen[b] = True
                    stack.append(b)
        return seen

    def components(self) -> list[int]:
        """The strongly connected component of each touchpoint (labels ``0..k-1``)."""
        import numpy as np
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        n = len(self.names)
        edges = np.array(self.edges, dtype=np.int64).reshape(-1, 2)
        matrix = sp.csr_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
        return connected_components(matrix, directed=True, connection="strong")[1].tolist()
