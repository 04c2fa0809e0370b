"""How ``validate`` grows with the map: random maps of 1,000 to 100,000 touchpoints, 5 edges a row.

Each map is written as JSON (about 100 bytes a touchpoint) and checked in-process by
``check_map``, the whole of ``journeysim validate`` but start-up. The reference, measured in
the same run on the same file, is ``json.loads`` of its text: a linear check stays within a
constant factor of it at every size, a quadratic one falls behind by 10x per 10x. Figures are
CPU seconds (best of a few runs, contenders interleaved); the load average is printed because
other processes slow both alike. Goal (issue 19): 10,000 touchpoints in under 2 s.

    python benchmarks/validate.py [--sizes 1000,10000,100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from journeysim.maps.read import check_map


def random_map(n: int, degree: int, rng: np.random.Generator) -> dict:
    """A valid map: ``n`` touchpoints, ``degree`` edges a row (the next touchpoint, so that every one is reached,
    and random ones), 30% drop-off, 1% goals."""
    names = [f"touchpoint {i}" for i in range(n)]
    targets = rng.integers(0, n, size=(n, degree))
    targets[:, 0] = (np.arange(n) + 1) % n
    weights = rng.dirichlet(np.ones(degree), size=n) * 0.7
    transitions = {}
    for i, name in enumerate(names):
        row: dict[str, float] = {}
        for j, w in zip(targets[i].tolist(), weights[i].tolist()):
            row[names[j]] = round(row.get(names[j], 0.0) + w, 6)
        transitions[name] = row
    goals = set(rng.choice(n, size=max(1, n // 100), replace=False).tolist())
    return {"format": 1, "name": f"random {n}", "entry": {names[0]: 1.0},
            "touchpoints": {name: ({"goal": True} if i in goals else {}) for i, name in enumerate(names)},
            "transitions": transitions}


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    parser.add_argument("--degree", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(19)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'touchpoints':>11} {'MiB':>6} {'json.loads s':>12} {'validate s':>10} {'ratio':>6} {'growth':>7}")
    previous = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            path = Path(tmp) / f"map-{n}.json"
            path.write_text(json.dumps(random_map(n, args.degree, rng)), encoding="utf-8")
            text = path.read_text(encoding="utf-8")
            check_map(path)        # warm: imports, caches
            parse, check = [], []
            for _ in range(args.repeat):
                parse.append(cpu(lambda: json.loads(text)))
                result = None

                def run():
                    nonlocal result
                    result = check_map(path)
                check.append(cpu(run))
                assert result.ok, result.errors[:3]
            best = min(check)
            growth = "" if previous is None else f"{best / previous[1]:.1f}x/{n / previous[0]:.0f}x"
            print(f"{n:>11,} {path.stat().st_size / 2**20:>6.1f} {min(parse):>12.3f} {best:>10.3f} "
                  f"{best / max(min(parse), 1e-9):>6.1f} {growth:>7}")
            previous = (n, best)


if __name__ == "__main__":
    main()
