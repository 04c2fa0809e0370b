"""What every benchmark prints beside its figures: the machine's load, and runs of the contenders interleaved.

On a shared machine seconds move with the load; ratios of CPU time measured in the same run,
contenders alternating, move much less. Each benchmark prints its ratio against its reference,
the load average before and after, and the number of repeats.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable


def machine() -> str:
    """One line naming the date, the machine and its load."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    return f"{datetime.date.today().isoformat()}, {model}, {os.cpu_count()} cores; {load()}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f}"


def cpu_seconds(fn: Callable[[], object]) -> tuple[float, object]:
    """CPU seconds of this process (every thread) spent in ``fn()``, and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def interleaved(contenders: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """CPU seconds of each contender's ``repeat`` runs, the contenders taking turns so that a busy spell of the
    machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            times[name].append(cpu_seconds(fn)[0])
    return times
