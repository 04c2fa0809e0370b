"""analyze on large per-customer files: journeysim against pandas + statsmodels applying the same rules.

    python benchmarks/analyze.py [--sizes 1e6,1e7] [--repeat 3]

For each size, writes a per-customer CSV like ``experiments/live-chat.results.csv`` (user id,
variant, converted as yes/no, revenue, a pre-period covariate; about 10% of the rows repeat
a customer and 0.1% of the customers appear in both arms), then runs, each in a fresh process
(so that peak memory is its own), alternating for ``--repeat`` rounds:

* journeysim: ``read_results`` + ``analyze_experiment`` (what ``journeysim analyze`` does);
* pandas + statsmodels: ``read_csv``, the booleans mapped, customers in several variants dropped,
  ``groupby(variant, user)`` with ``any``/``sum``/``first``, then the z-test, Wilson and Newcombe
  intervals and Welch's test on revenue and on CUPED-adjusted revenue.

Prints the median CPU seconds of the work (imports excluded; every thread counted), the peak
resident memory of the process and the part of it the work added, and the ratios
journeysim/reference. Goal: at most 1.2x the CPU time and at most 1.0x the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import load, machine  # noqa: E402

# Each child imports what both contenders need, then reports the CPU time of the work alone.
CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW
from journeysim.experiments.analysis import analyze_experiment
from journeysim.experiments.results import read_results

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

def journeysim(path):
    a = analyze_experiment(read_results(path))
    v = a.variants["live chat"]
    return v.customers, v.conversions, a.excluded_customers, a.duplicate_customers

def reference(path):
    df = pd.read_csv(path, dtype={"user_id": str, "variant": str, "converted": str})
    df["converted"] = df["converted"].str.strip().str.lower().map(
        {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False})
    if df["converted"].isna().any():
        raise ValueError("not a boolean")
    arms = df.groupby("user_id", sort=False)["variant"].nunique()
    mixed = arms.index[arms > 1]
    kept = df[~df["user_id"].isin(mixed)]
    grouped = kept.groupby(["variant", "user_id"], sort=False)
    per = grouped.agg(converted=("converted", "any"), revenue=("revenue", "sum"), pre=("pre_revenue", "first"))
    duplicates = int((grouped.size() > 1).sum())
    c, v = per.loc["control"], per.loc["live chat"]
    x, n = [v["converted"].sum(), c["converted"].sum()], [len(v), len(c)]
    proportions_ztest(x, n)
    proportion_confint(x[0], n[0], method="wilson")
    confint_proportions_2indep(x[0], n[0], x[1], n[1], method="newcomb")
    CompareMeans(DescrStatsW(v["revenue"].to_numpy()), DescrStatsW(c["revenue"].to_numpy())).ttest_ind(usevar="unequal")
    theta = np.cov(per["revenue"], per["pre"])[0, 1] / per["pre"].var()
    adj = per["revenue"] - theta * (per["pre"] - per["pre"].mean())
    CompareMeans(DescrStatsW(adj.loc["live chat"].to_numpy()),
                 DescrStatsW(adj.loc["control"].to_numpy())).ttest_ind(usevar="unequal")
    return len(v), int(x[0]), len(mixed), duplicates

base = rss()
start = time.process_time()
answer = globals()[sys.argv[1]](sys.argv[2])
cpu = time.process_time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"cpu": cpu, "peak": peak, "added": peak - base, "answer": [int(a) for a in answer]}))
"""


def write_results(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, int(rows * 0.9), rows)
    arm = (users % 2).astype(np.int8)
    arm[rng.random(rows) < 0.001] ^= 1    # customers seen in both arms
    converted = rng.random(rows) < 0.05 + 0.004 * arm
    revenue = np.where(converted, np.round(rng.gamma(2.0, 25.0, rows), 2), 0.0)
    table = pa.table({"user_id": np.char.add("u", users.astype(str)),
                      "variant": np.where(arm == 1, "live chat", "control"),
                      "converted": np.where(converted, "yes", "no"), "revenue": revenue,
                      "pre_revenue": np.round(rng.gamma(2.0, 20.0, rows), 1)})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))


def run(contender: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, contender, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    print(f"{args.repeat} runs of each contender, alternating, each in a fresh process; medians of CPU seconds")
    print(f"{'rows':>11} {'journeysim s':>13} {'pandas s':>9} {'CPU ratio':>9} {'peak MB':>8} {'pandas':>7} "
          f"{'ratio':>6} {'added MB':>9} {'pandas':>7} {'ratio':>6}  load")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(float(s)) for s in args.sizes.split(",")):
            path = Path(tmp) / "results.csv"
            write_results(path, size)
            os.sync()
            runs = {"journeysim": [], "reference": []}
            for _ in range(args.repeat):
                for name in runs:
                    runs[name].append(run(name, path))
            ours, theirs = runs["journeysim"], runs["reference"]
            assert ours[0]["answer"] == theirs[0]["answer"], (ours[0]["answer"], theirs[0]["answer"])
            cpu, their_cpu = (float(np.median([r["cpu"] for r in rs])) for rs in (ours, theirs))
            peak, their_peak = (max(r["peak"] for r in rs) for rs in (ours, theirs))
            added, their_added = (max(r["added"] for r in rs) for rs in (ours, theirs))
            print(f"{size:>11,} {cpu:>13.2f} {their_cpu:>9.2f} {cpu / their_cpu:>8.2f}x {peak:>8.0f} {their_peak:>7.0f} "
                  f"{peak / their_peak:>5.2f}x {added:>9.0f} {their_added:>7.0f} {added / their_added:>5.2f}x  "
                  f"{load()}", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
