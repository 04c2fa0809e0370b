"""Exact engine: time to solve and to compute every removal effect on random sparse maps.

Prints, for maps of 10, 100, 1,000 and 5,000 touchpoints (about 5 edges a row), the time of
a solve without removal effects, with all of them, and the time the naive method (one
re-solve per removed touchpoint, measured on a sample and scaled up) would take, as a ratio.

    python benchmarks/exact.py [--sizes 10 100 1000 5000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from journeysim import Journey, solve_exact
from journeysim.engines import exact
from journeysim.engines.compiled import compile_journey


def random_map(n: int, edges: int, rng: np.random.Generator) -> Journey:
    rows = {}
    for i in range(n):
        k = min(edges, n - 1)
        targets = rng.choice(np.delete(np.arange(n), i), size=k, replace=False)
        p = rng.dirichlet(np.ones(k + 1))[:k] * 0.9  # keep >= 10% drop-off on average
        rows[f"t{i}"] = {f"t{j}": float(q) for j, q in zip(targets, p)}
    goals = [f"t{i}" for i in range(n - max(1, n // 10), n)]
    entry = {f"t{i}": 1 / min(3, n) for i in range(min(3, n))}
    return Journey.from_rows(entry, rows, goals=goals)


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def naive_removal_seconds(journey: Journey, sample: int) -> float:
    """One dense solve of the goal-absorbing chain per removed touchpoint, scaled from a sample."""
    chain = compile_journey(journey)
    Q = chain.Q.toarray()
    Q[chain.goal] = 0.0
    candidates = np.flatnonzero(~chain.goal)
    t0 = time.perf_counter()
    for k in candidates[:sample]:
        Qk = Q.copy()
        Qk[:, k] = 0.0  # what flowed into k drops off
        Qk[k] = 0.0
        entry = chain.entry.copy()
        entry[k] = 0.0
        entry @ np.linalg.solve(np.eye(len(Q)) - Qk, chain.goal.astype(float))
    return (time.perf_counter() - t0) / min(sample, len(candidates)) * len(candidates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"dense below {exact.DENSE_LIMIT} touchpoints, sparse LU above")
    print(f"{'touchpoints':>11} {'solve s':>10} {'+ removal s':>12} {'naive removal s':>16} {'speed-up':>9}")
    for n in args.sizes:
        journey = random_map(n, 5, rng)
        solve = timed(lambda: solve_exact(journey, removal_effects=False), repeat=1 if n > 1000 else 3)
        full = timed(lambda: solve_exact(journey), repeat=1 if n > 1000 else 3)
        naive = naive_removal_seconds(journey, sample=3 if n > 1000 else 30)
        print(f"{n:>11} {solve:>10.4f} {full:>12.4f} {naive:>16.2f} {naive / full:>8.1f}x")


if __name__ == "__main__":
    main()
