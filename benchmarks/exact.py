"""Exact engine: one factorisation against numpy/scipy references, and every removal effect against re-solving.

1. Maps of 1,000 and 3,000 touchpoints (about 5 edges a row, 10% goals) in 5 stages:
   ``solve_exact`` (every metric, visit rates, stage reach and funnel, removal effects)
   against two references on the same dense ``I - Q``, CPU seconds, interleaved: one LU
   factorisation alone (``scipy.linalg.lu_factor``), and the inverse from one LU
   (``scipy.linalg.inv``: what the diagonal behind visit rates and the blocks behind
   stage reach need at least). The references start from the dense matrix; the engine
   from the map (its compilation counted). A third reference is the least any method of
   this kind can spend on what visit rates and removal effects need: one LU and the
   diagonal of the inverse from it (``diag(U^-1 L^-1)``, two triangular inverses, no
   full inverse, no stage blocks). Growth from the smaller to the larger size.
   BLAS runs on one thread (set OPENBLAS_NUM_THREADS to change it).
2. Maps of 10 to 5,000 touchpoints: a solve without removal effects, with all of them,
   and the naive method (one re-solve per removed touchpoint, measured on a sample and
   scaled up), as a ratio.

    python benchmarks/exact.py [--stage-sizes 1000 3000] [--sizes 10 100 1000 5000] [--repeat 3]
"""

from __future__ import annotations

import os

# One BLAS thread, for every contender: the CPU time of a multithreaded BLAS counts its threads' spinning, which
# on a shared 2-core machine can exceed the work itself.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg as la  # noqa: E402

from scipy.linalg import lapack  # noqa: E402

from journeysim import Journey, solve_exact  # noqa: E402
from journeysim.engines import exact  # noqa: E402
from journeysim.engines.compiled import compile_journey  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import interleaved, load, machine  # noqa: E402

STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")


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


def staged_map(n: int, rng: np.random.Generator) -> Journey:
    """:func:`random_map` with its touchpoints in 5 stages of equal size, in map order."""
    j = random_map(n, 5, rng)
    touchpoints = {name: t.__class__(**{**t.__dict__, "stage": STAGES[k * len(STAGES) // n]})
                   for k, (name, t) in enumerate(j.touchpoints.items())}
    return j.replace(touchpoints=touchpoints, stages=STAGES)


def lu_and_diagonal(A: np.ndarray) -> np.ndarray:
    """One LU of ``A`` and the diagonal of ``A^-1`` from it, without the inverse: ``A^T = P L U`` with no row
    exchanges (``A`` is row diagonally dominant, so partial pivoting keeps the diagonal of ``A^T``), and
    ``diag(A^-1)_i = sum_j (U^-1)_ij (L^-1)_ji``: the cheapest route to the hitting probabilities we know of."""
    lu, piv = la.lu_factor(A.T, check_finite=False)
    if not np.array_equal(piv, np.arange(len(A))):
        raise AssertionError("partial pivoting exchanged rows of a diagonally dominant matrix")
    u_inv, _ = lapack.dtrtri(lu, lower=0)
    l_inv, _ = lapack.dtrtri(lu, lower=1, unitdiag=1)
    # dtrtri leaves the other triangle as it found it (the other factor's entries): only the upper part of U^-1
    # and the lower part of L^-1 (its unit diagonal implied) are the inverses'.
    return (np.einsum("ij,ji->i", np.triu(u_inv, 1), np.tril(l_inv, -1)) + np.diag(u_inv))


def against_references(sizes: list[int], repeat: int, seed: int) -> None:
    print(machine())
    print(f"solve_exact with 5 stages against one LU, one LU with the diagonal of the inverse, and one inverse of "
          f"the same I - Q; CPU seconds, median of {repeat} interleaved runs")
    print(f"{'touchpoints':>11} {'solve_exact s':>14} {'no removal s':>13} {'one LU s':>9} {'LU + diag s':>12} "
          f"{'inverse s':>10} {'/ LU':>6} {'floor / LU':>11} {'/ inverse':>10}")
    rng = np.random.default_rng(seed)
    rows = {}
    for n in sizes:
        journey = staged_map(n, rng)
        A = np.eye(n) - compile_journey(journey).Q.toarray()
        diagonal = lu_and_diagonal(A)
        if not np.allclose(diagonal, np.diag(la.inv(A)), rtol=1e-9, atol=0):
            raise AssertionError("the diagonal from the triangular inverses is not the inverse's")
        times = interleaved({"engine": lambda: solve_exact(journey),
                             "no removal": lambda: solve_exact(journey, removal_effects=False),
                             "lu": lambda: la.lu_factor(A), "floor": lambda: lu_and_diagonal(A),
                             "inverse": lambda: la.inv(A)}, repeat)
        t = {k: float(np.median(v)) for k, v in times.items()}
        rows[n] = t
        print(f"{n:>11} {t['engine']:>14.3f} {t['no removal']:>13.3f} {t['lu']:>9.3f} {t['floor']:>12.3f} "
              f"{t['inverse']:>10.3f} {t['engine'] / t['lu']:>5.2f}x {t['floor'] / t['lu']:>10.2f}x "
              f"{t['engine'] / t['inverse']:>9.2f}x")
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        print(f"growth from {a:,} to {b:,} touchpoints ({b / a:g}x; n^3 would be {(b / a) ** 3:.0f}x): "
              + ", ".join(f"{name} {rows[b][key] / rows[a][key]:.1f}x" for name, key in
                          (("solve_exact", "engine"), ("one LU", "lu"), ("LU + diagonal", "floor"),
                           ("inverse", "inverse"))))
    print(load())


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
    parser.add_argument("--stage-sizes", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    against_references(args.stage_sizes, args.repeat, args.seed)
    print()
    rng = np.random.default_rng(args.seed)
    print(f"dense below {exact.DENSE_LIMIT} touchpoints, sparse LU above (dense up to {exact.DENSE_MAX} when the LU "
          f"fills in past {exact.FILL_LIMIT:.0%})")
    print(f"{'touchpoints':>11} {'solve s':>10} {'+ removal s':>12} {'naive removal s':>16} {'speed-up':>9}")
    for n in args.sizes:
        journey = random_map(n, 5, rng)
        solve = timed(lambda: solve_exact(journey, removal_effects=False), repeat=1 if n > 1000 else 3)
        full = timed(lambda: solve_exact(journey), repeat=1 if n > 1000 else 3)
        naive = naive_removal_seconds(journey, sample=3 if n > 1000 else 30)
        print(f"{n:>11} {solve:>10.4f} {full:>12.4f} {naive:>16.2f} {naive / full:>8.1f}x")


if __name__ == "__main__":
    main()
