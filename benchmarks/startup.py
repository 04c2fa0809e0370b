"""Start-up: CPU time of a few commands a strategist types all day, against ``python -c "import numpy"``.

Each contender runs as a new process 7 times (after one untimed run that writes the bytecode caches), the
contenders interleaved so that a change in the machine's load falls on all of them alike. A run's CPU time is the
user + system time of the child process (``resource.getrusage(RUSAGE_CHILDREN)``), which a busy machine inflates
far less than wall time. Prints the median of each, its ratio to the yardstick measured in the same run, the goal
of issue 15, and the load average before and after. Also timed: importing the statistics libraries ``analyze``
calls (statsmodels, scipy.stats, pandas) and nothing else, the floor that no start-up work in journeysim can go
below.

    python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def journeysim() -> list[str]:
    """The installed ``journeysim`` script (what a user runs), else ``python -m journeysim``."""
    script = Path(sys.executable).with_name("journeysim")
    if script.exists():
        return [str(script)]
    found = shutil.which("journeysim")
    return [found] if found else [sys.executable, "-m", "journeysim"]


def contenders() -> list[tuple[str, list[str], float | None]]:
    js = journeysim()
    return [
        ('python -c "import numpy"', [sys.executable, "-c", "import numpy"], None),
        ("journeysim --help", [*js, "--help"], 2.0),
        ("journeysim validate scenarios/online-store.yaml", [*js, "validate", "scenarios/online-store.yaml"], 3.0),
        ("journeysim simulate scenarios/online-store.yaml", [*js, "simulate", "scenarios/online-store.yaml"], 5.0),
        ("journeysim analyze experiments/live-chat.results.csv",
         [*js, "analyze", "experiments/live-chat.results.csv"], 8.0),
        # What analyze cannot go below: the statistics libraries it calls, imported and nothing else.
        ("  (statsmodels, scipy.stats, pandas alone)", [sys.executable, "-c", _ANALYZE_FLOOR], None),
    ]


_ANALYZE_FLOOR = ("import statsmodels.stats.proportion, statsmodels.stats.weightstats, statsmodels.stats.multitest, "
                  "scipy.stats, scipy.integrate, pandas")


def cpu_seconds(command: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command (default 7)")
    runs = parser.parse_args().runs
    load_before = os.getloadavg()
    table = contenders()
    for _, command, _ in table:
        cpu_seconds(command)                      # bytecode caches, numba's cache, the page cache
    times: dict[str, list[float]] = {name: [] for name, _, _ in table}
    for _ in range(runs):
        for name, command, _ in table:
            times[name].append(cpu_seconds(command))
    load_after = os.getloadavg()
    yardstick = statistics.median(times[table[0][0]])
    print(f"CPU seconds, median of {runs} runs (load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{os.cpu_count()} CPUs)")
    width = max(len(name) for name, _, _ in table)
    print(f"{'command':<{width}}  {'CPU s':>6}  {'ratio':>6}  {'goal':>6}")
    for name, _, goal in table:
        median = statistics.median(times[name])
        ratio = median / yardstick
        verdict = "" if goal is None else f"<= {goal:g}x {'met' if ratio <= goal else 'MISSED'}"
        print(f"{name:<{width}}  {median:6.3f}  {ratio:5.2f}x  {verdict}")


if __name__ == "__main__":
    main()
