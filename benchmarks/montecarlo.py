"""Monte Carlo engine speed: transitions per second against simple references, and peak memory.

The map: 30 touchpoints, 3-6 edges a row, about 8.8 transitions per customer,
once without delays and once with lognormal delays everywhere. Both backends
run: the default compiled kernel (numba) and the vectorised numpy steps.
References, measured in the same run on a subsample: (a) a plain Python loop
(bisect over cumulative rows, uniforms drawn in blocks) and (b) a per-row
``rng.choice`` loop (all customers at a touchpoint step together). A
calibration line runs numpy alias stepping alone, to show how fast this machine
is at the moment. The compiled kernel's one-off cost per process (importing
numba and loading the kernel from its on-disk cache) is timed in a child process
and left out of the rates. Peak memory is the maximum resident size of a child
process simulating a large cohort. ``--threads`` measures the run in blocks on 1 and 2 threads
(``workers=``) against the single-stream run: wall time (what the user waits for; CPU time grows with threads),
the three contenders interleaved, the median of the repeats.

    python benchmarks/montecarlo.py [--large 100000000] [--sizes 1e6 1e7] [--repeat 3]
    python benchmarks/montecarlo.py --threads [--sizes 1e7] [--repeat 5]
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

from journeysim.engines.montecarlo.alias import draw
from journeysim.engines.montecarlo.engine import CHUNK_SIZE, simulate_montecarlo
from journeysim.engines.montecarlo.tables import build_tables
from journeysim.journey import Delay, Journey

N_TOUCHPOINTS = 30
EXIT_SHARE = 1 / 8.8


def benchmark_map(delays: bool, seed: int = 2024) -> Journey:
    """30 touchpoints, 3-6 edges a row, drop-off 1/8.8 everywhere; lognormal delays if asked."""
    rng = np.random.default_rng(seed)
    names = [f"t{i}" for i in range(N_TOUCHPOINTS)]
    rows = {}
    for i, name in enumerate(names):
        k = int(rng.integers(3, 7))
        targets = rng.choice(N_TOUCHPOINTS, size=k, replace=False)
        weights = rng.random(k)
        weights *= (1 - EXIT_SHARE) / weights.sum()
        rows[name] = {names[t]: float(w) for t, w in zip(targets, weights)}
    attrs = {n: {"delay": Delay("lognormal", 1.0 + i % 5, 0.8)} for i, n in enumerate(names)} if delays else {}
    attrs.setdefault(names[-1], {})["value"] = 10.0
    return Journey.from_rows({names[0]: 0.5, names[1]: 0.5}, rows, goals=[names[-1]],
                             touchpoint_attributes=attrs)


def _rows(journey: Journey):
    """Per touchpoint: targets (-1 for drop-off), probabilities and lognormal (mu, sigma) or None."""
    index = {n: i for i, n in enumerate(journey.names)}
    out = []
    for name in journey.names:
        row = journey.rows.get(name, {})
        targets = [index[b] for b in row] + [-1]
        probs = [e.p for e in row.values()] + [journey.exit_probability(name)]
        delay = journey.touchpoints[name].delay
        out.append((targets, probs, delay.lognormal_params() if delay is not None else None))
    return out


def python_loop(journey: Journey, customers: int, rng: np.random.Generator) -> int:
    """Reference (a): one customer and one step at a time, in plain Python (delays and time included)."""
    rows = [(t, list(np.cumsum(p)), d) for t, p, d in _rows(journey)]
    uniforms, normals, used, transitions = rng.random(1 << 16).tolist(), rng.standard_normal(1 << 16).tolist(), 0, 0
    for _ in range(customers):
        cur = 0 if uniforms[used] < 0.5 else 1
        used += 1
        clock = 0.0
        while cur >= 0:
            if used >= len(uniforms) - 1:
                uniforms, normals, used = rng.random(1 << 16).tolist(), rng.standard_normal(1 << 16).tolist(), 0
            targets, cum, delay = rows[cur]
            if delay is not None:
                clock += math.exp(delay[0] + delay[1] * normals[used])
            cur = targets[min(bisect.bisect_right(cum, uniforms[used]), len(targets) - 1)]
            used += 1
            transitions += 1
    return transitions


def choice_loop(journey: Journey, customers: int, rng: np.random.Generator) -> int:
    """Reference (b): all customers at a touchpoint step together with ``rng.choice`` (and ``rng.lognormal``)."""
    rows = _rows(journey)
    cur = rng.choice(2, size=customers)
    clock = np.zeros(customers)
    transitions = 0
    while cur.size:
        nxt = np.empty_like(cur)
        for i, (targets, probs, delay) in enumerate(rows):
            at = np.flatnonzero(cur == i)
            if at.size:
                nxt[at] = rng.choice(targets, size=at.size, p=np.asarray(probs) / sum(probs))
                if delay is not None:
                    clock[at] += rng.lognormal(delay[0], delay[1], size=at.size)
        transitions += cur.size
        keep = nxt >= 0
        cur, clock = nxt[keep], clock[keep]
    return transitions


def alias_kernel(journey: Journey, customers: int, rng: np.random.Generator, chunk: int = CHUNK_SIZE) -> int:
    """Calibration: the engine's alias stepping alone, without delays or any tally."""
    tables = build_tables(journey)
    transitions = 0
    for first in range(0, customers, chunk):
        state = draw(tables.entry, np.zeros(min(chunk, customers - first), dtype=np.intp), rng)
        while state.size:
            transitions += state.size
            state = draw(tables.step_target, state, rng)
            state = state[state != tables.exit]
    return transitions


def _rate(fn, *args, repeat: int = 1) -> tuple[float, float]:
    """Transitions per second of wall time and per second of this process's CPU time (best of ``repeat``)."""
    best = (0.0, 0.0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        transitions = fn(*args)
        rate = transitions / (time.perf_counter() - wall), transitions / (time.process_time() - cpu)
        best = max(best, rate, key=lambda r: r[1])
    return best


def _engine(journey, customers, backend="numba", seed=1) -> int:
    return simulate_montecarlo(journey, customers, rng=np.random.default_rng(seed), removal_effects=False,
                               backend=backend).transitions


def threads(journey: Journey, customers: int, repeat: int) -> None:
    """Wall and CPU seconds of one stream, then blocks on 1 and 2 threads, interleaved; the speed-up of 2 threads."""
    contenders = {"one stream": None, "blocks, 1 thread": 1, "blocks, 2 threads": 2}
    times = {name: [] for name in contenders}
    results = {}
    for _ in range(repeat):
        for name, workers in contenders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            r = simulate_montecarlo(journey, customers, rng=np.random.default_rng(5), removal_effects=False,
                                    workers=workers)
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            results[name] = r.to_dict()
    median = {name: (float(np.median([w for w, _ in t])), float(np.median([c for _, c in t])))
              for name, t in times.items()}
    for name, (wall, cpu) in median.items():
        print(f"  {name:<18} {customers:>11,d} customers: {wall:6.2f} s wall, {cpu:6.2f} s CPU "
              f"({customers / wall:.3g} customers/s)")
    one, two = median["blocks, 1 thread"][0], median["blocks, 2 threads"][0]
    same = results["blocks, 1 thread"] == results["blocks, 2 threads"]
    print(f"  speed-up of 2 threads: {one / two:.2f}x wall against 1 thread, "
          f"{median['one stream'][0] / two:.2f}x against one stream (median of {repeat}); "
          f"1 and 2 threads give the same result: {same}")


def kernel_load_seconds() -> float:
    """Seconds a new process spends before its first compiled walk: numba import and cache load."""
    code = ("import time, numpy as np; t = time.perf_counter(); "
            "from journeysim.engines.montecarlo.engine import simulate_montecarlo; from journeysim.journey import Journey; "
            "j = Journey.from_rows({'a': 1.0}, {'a': {'b': 0.5}}, goals=['b']); "
            "simulate_montecarlo(j, 10, rng=np.random.default_rng(1), removal_effects=False); "
            "print(time.perf_counter() - t)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # compiles on a cold cache
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout)


def peak_memory(customers: int) -> tuple[float, float]:
    """(seconds, peak resident MB) of a child process simulating ``customers`` with lognormal delays."""
    code = ("import sys, numpy as np; sys.path.insert(0, 'benchmarks'); from montecarlo import benchmark_map; "
            "from journeysim.engines.montecarlo.engine import simulate_montecarlo; "
            f"simulate_montecarlo(benchmark_map(True), {customers}, rng=np.random.default_rng(3), "
            "removal_effects=False)")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, help="customers per run (default 1e6 1e7; --threads: 1e7)")
    parser.add_argument("--reference-customers", type=int, default=100_000)
    parser.add_argument("--large", type=float, default=1e8, help="customers for the memory run (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per size; the best one is shown")
    parser.add_argument("--threads", action="store_true",
                        help="only the run in blocks on 1 and 2 threads against one stream (lognormal delays)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(7)
    if args.threads:
        journey = benchmark_map(True)
        _engine(journey, 100_000)   # warm-up: imports, kernel load
        for n in args.sizes or [1e7]:
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, before")
            threads(journey, int(n), args.repeat)
            print(f"load average {os.getloadavg()[0]:.1f}, after")
        return
    args.sizes = args.sizes or [1e6, 1e7]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; rates as wall / CPU-time "
          "(CPU time of this process, less sensitive to other processes)")
    kernel = _rate(alias_kernel, benchmark_map(False), int(args.sizes[0]), rng)
    print(f"calibration: bare numpy alias stepping {kernel[0]:.3g} / {kernel[1]:.3g} transitions/s "
          "(the design notes measured 1.6e8/s for it on an idle core)")
    print(f"compiled kernel: {kernel_load_seconds():.2f} s per new process to import numba and load the kernel "
          "(once per process; not in the rates below)")
    for delays in (False, True):
        journey = benchmark_map(delays)
        label = "lognormal delays" if delays else "no delays"
        for backend in ("numba", "numpy"):
            _engine(journey, 100_000, backend)  # warm-up: imports, kernel load, page faults
        py = _rate(python_loop, journey, args.reference_customers, rng)
        choice = _rate(choice_loop, journey, args.reference_customers * 10, rng)
        print(f"{label}: python loop {py[0]:.3g} / {py[1]:.3g} transitions/s ({args.reference_customers} customers), "
              f"per-row rng.choice {choice[0]:.3g} / {choice[1]:.3g} ({args.reference_customers * 10} customers)")
        for n in args.sizes:
            for backend in ("numba", "numpy"):
                rate = _rate(_engine, journey, int(n), backend, repeat=args.repeat)
                print(f"  engine ({backend}, best of {args.repeat}), {int(n):>11,d} customers: "
                      f"{rate[0]:.3g} / {rate[1]:.3g} transitions/s "
                      f"= {rate[1] / py[1]:.1f}x python loop, {rate[1] / choice[1]:.1f}x rng.choice loop (CPU time)")
    if args.large:
        seconds, mb = peak_memory(int(args.large))
        print(f"peak memory, {int(args.large):,d} customers with lognormal delays: {mb:.0f} MB "
              f"(max resident size of the child process; {seconds:.1f} s)")


if __name__ == "__main__":
    main()
