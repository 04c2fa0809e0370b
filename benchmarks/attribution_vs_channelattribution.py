"""Markov attribution: journeysim against ChannelAttribution (PyPI ``channelattribution``), conversions and value.

    python benchmarks/attribution_vs_channelattribution.py [--sizes 1e5,1e6] [--nsim 1e7] [--data Data.csv]
    python benchmarks/attribution_vs_channelattribution.py --orders 1,2,3 [--repeat 3]
    python benchmarks/attribution_vs_channelattribution.py --write-reference tests/attribution/reference --nsim 1e8

Three comparisons, each printing journeysim's attributed conversions and value, ChannelAttribution's
``total_conversions`` and ``total_conversion_value``, their relative differences, and the largest difference
over the channels that hold at least 1 % of the value (target: within 1 %):

* simulated logs (``--sizes``): that many journeys on a random 12-channel map with loops and two goals worth
  20 and 200 (so that value per conversion depends on the path; fixed seed), one path row per journey;
  journeysim reads the path file (CSV parse included), ChannelAttribution gets the same rows from memory.
  Run times of both are printed.
* ChannelAttribution's own example file (``--data``, its ``Data.csv``, ``;``-separated; shipped in its source
  package under ``src/cypack/data``).
* the reference files of the tests (``tests/attribution/reference``): ``Data.csv.gz`` and ``own-paths.csv.gz``
  (a path file made here from a simulated event log, :func:`own_paths`), at orders 1 and 2.

ChannelAttribution runs with its most exact settings: ``nsim_start`` simulations (default 1e7; 1e8 for the
reference), ``max_step=1000`` (its default caps simulated paths at the longest observed one, which biases
removal effects on maps with loops) and ``nfold=1``: by default it splits ``nsim_start`` into 10 runs and keeps
the one closest to their median, so only a tenth of the simulations make its estimate (and seeds ``s`` and
``s + 1`` share nine of their ten runs); with one fold all of them count. Its seed-to-seed spread (seed 0
against seed 1) is printed beside the differences: it is its Monte Carlo error. journeysim solves the same chain
exactly.

``--orders 1,2,3`` times both on ChannelAttribution's Data.csv (the tests' copy) at each order, CPU seconds
(every thread), interleaved, with the largest difference between them and ChannelAttribution's seed-to-seed
spread at that ``--nsim`` (its precision), the ratio and the load average.

``--write-reference DIR`` writes ``own-paths.csv.gz`` and ``channelattribution.json`` (ChannelAttribution's
results on both files with the call that produced them), which ``tests/attribution/test_reference.py``
compares against without needing ChannelAttribution. ChannelAttribution is optional (``pip install -e .[bench]``);
without it only journeysim's timings are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib.metadata
import io
import json
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from journeysim import Journey
from journeysim.attribution.credit import attribute_file
from journeysim.engines.eventlog import simulate_event_log

CHANNELS = [f"channel {i}" for i in range(12)]
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "attribution" / "reference"
CALL = ('ChannelAttribution.markov_model(Data, "path", "total_conversions", var_value="total_conversion_value", '
        'var_null="total_null", order={order}, out_more=True, sep=">", nsim_start={nsim:g}, max_step=1000, '
        'nfold=1, conv_par=0.05, seed={seed}, verbose=False, flg_pro=False)')


def random_map(rng: np.random.Generator) -> Journey:
    """12 channels, each leading to 3 others, a small order (20) and a big one (200) in varying proportions."""
    rows = {}
    for c in CHANNELS:
        targets = rng.choice(CHANNELS, size=3, replace=False)
        weights = rng.dirichlet(np.ones(6)) * 0.9
        rows[c] = {t: float(w) for t, w in zip(targets, weights[:3])}
        rows[c]["small order"] = float(weights[3] * 0.5)
        rows[c]["big order"] = float(weights[4] * 0.15)
    entry = dict(zip(CHANNELS, rng.dirichlet(np.ones(len(CHANNELS))).tolist()))
    return Journey.from_rows(entry, rows, goals=["small order", "big order"],
                             touchpoint_attributes={"small order": {"value": 20.0}, "big order": {"value": 200.0}})


def path_rows(journey: Journey, journeys: int, rng: np.random.Generator, distinct: bool = False) -> pd.DataFrame:
    """A ChannelAttribution path table of ``journeys`` simulated journeys (one row each, or one per distinct path)."""
    log = simulate_event_log(journey, journeys, rng=rng, span=0)
    goals = [n for n, tp in journey.touchpoints.items() if tp.goal]
    con = duckdb.connect()
    con.register("log", log)
    per_journey = f"""
        SELECT user_id, string_agg(touchpoint, ' > ' ORDER BY timestamp)
                   FILTER (WHERE NOT list_contains($goals, touchpoint)) AS path,
               count(*) FILTER (WHERE list_contains($goals, touchpoint)) AS total_conversions,
               1 - count(*) FILTER (WHERE list_contains($goals, touchpoint)) AS total_null,
               sum(value) AS total_conversion_value
        FROM log GROUP BY user_id"""
    if distinct:
        query = (f"SELECT path, sum(total_conversions) AS total_conversions, sum(total_null) AS total_null, "
                 f"round(sum(total_conversion_value), 6) AS total_conversion_value FROM ({per_journey}) "
                 f"WHERE path IS NOT NULL GROUP BY path ORDER BY path")
    else:
        query = per_journey + " ORDER BY user_id"
    return con.execute(query, {"goals": goals}).df().drop(columns="user_id", errors="ignore")


def own_paths() -> pd.DataFrame:
    """The test reference's own path file: 50,000 journeys of :func:`random_map` (seeds 7 and 8), distinct paths."""
    return path_rows(random_map(np.random.default_rng(7)), 50_000, np.random.default_rng(8), distinct=True)


def run_ca(ca, df: pd.DataFrame, nsim: float, seed: int, order: int = 1) -> pd.DataFrame:
    """ChannelAttribution's results, one row per channel: its attributions and both removal effects."""
    with contextlib.redirect_stdout(io.StringIO()):
        res = ca.markov_model(df, "path", "total_conversions", var_value="total_conversion_value",
                              var_null="total_null", order=order, out_more=True, sep=">", nsim_start=nsim,
                              max_step=1000, nfold=1, conv_par=0.05, seed=seed, verbose=False, flg_pro=False)
    return res["result"].merge(res["removal_effects"], on="channel_name").set_index("channel_name").sort_index()


def ours_frame(path: str | os.PathLike, order: int = 1) -> pd.DataFrame:
    r = attribute_file(path, ["markov"], order=order)
    return pd.DataFrame({"conversions": {k: c for k, (c, _) in r.models["markov"].items()},
                         "value": {k: v for k, (_, v) in r.models["markov"].items()}}).sort_index()


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, again: pd.DataFrame | None) -> float:
    """Print both side by side; return the largest relative difference over channels with >= 1 % of the value."""
    table = pd.DataFrame({
        "journeysim conv": ours["conversions"], "CA conv": theirs["total_conversions"],
        "journeysim value": ours["value"], "CA value": theirs["total_conversion_value"]})
    table["diff conv"] = table["journeysim conv"] / table["CA conv"] - 1
    table["diff value"] = table["journeysim value"] / table["CA value"] - 1
    table["value share"] = table["journeysim value"] / table["journeysim value"].sum()
    if again is not None:
        table["CA seed 1 vs 0 (value)"] = again["total_conversion_value"] / theirs["total_conversion_value"] - 1
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    big = table["value share"] >= 0.01
    worst = float(table.loc[big, ["diff conv", "diff value"]].abs().max().max())
    print(f"  largest relative difference on the {int(big.sum())} channels with >= 1% of the value: {worst:.3%} "
          f"({'within' if worst <= 0.01 else 'OUTSIDE'} 1%)")
    if again is not None:
        spread = float((table.loc[big, "CA seed 1 vs 0 (value)"]).abs().max())
        print(f"  ChannelAttribution's own seed-to-seed spread on those channels: {spread:.3%}")
    return worst


def channelattribution():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import ChannelAttribution
        return ChannelAttribution
    except ImportError:
        return None


def simulated(ca, sizes: list[int], nsim: float) -> None:
    journey = random_map(np.random.default_rng(2024))
    rng = np.random.default_rng(2025)
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            df = path_rows(journey, size, rng)
            path = Path(tmp) / "paths.csv"
            df.to_csv(path, index=False)
            start, cpu = time.perf_counter(), time.process_time()
            ours = ours_frame(path)
            t_ours, c_ours = time.perf_counter() - start, time.process_time() - cpu
            print(f"\n{size:,} simulated paths ({int(df.total_conversions.sum()):,} conversions), "
                  f"load average {os.getloadavg()[0]:.1f}")
            print(f"  journeysim markov (exact, from the CSV file): {t_ours:.2f} s ({c_ours:.2f} CPU s)")
            if ca is None:
                continue
            start, cpu = time.perf_counter(), time.process_time()
            theirs = run_ca(ca, df, nsim, seed=0)
            t_ca, c_ca = time.perf_counter() - start, time.process_time() - cpu
            print(f"  ChannelAttribution markov_model (nsim_start={nsim:g}, from memory): {t_ca:.2f} s "
                  f"({c_ca:.2f} CPU s; {c_ca / c_ours:.1f}x journeysim's CPU time)")
            compare(ours, theirs, run_ca(ca, df, nsim, seed=1))


def write_reference(ca, directory: Path, nsim: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    own = directory / "own-paths.csv.gz"
    with gzip.open(own, "wt", encoding="utf-8", newline="") as f:
        own_paths().to_csv(f, index=False)
    out = {"channelattribution": importlib.metadata.version("channelattribution"),
           "made_by": "python benchmarks/attribution_vs_channelattribution.py --write-reference "
                      f"tests/attribution/reference --nsim {nsim:g}",
           "files": {}}
    for name, sep, orders in (("Data.csv.gz", ";", (1,)), ("own-paths.csv.gz", ",", (1, 2))):
        df = pd.read_csv(directory / name, sep=sep)
        out["files"][name] = {}
        for order in orders:
            print(f"{name}, order {order}: ChannelAttribution, seeds 0 and 1 ...", flush=True)
            theirs, again = run_ca(ca, df, nsim, 0, order), run_ca(ca, df, nsim, 1, order)
            spread = (again["total_conversion_value"] / theirs["total_conversion_value"] - 1).abs()
            out["files"][name][str(order)] = {
                "call": CALL.format(order=order, nsim=nsim, seed=0),
                "seed_spread_value": {k: round(float(v), 6) for k, v in spread.items()},
                "result": {k: {c: float(v) for c, v in row.items()} for k, row in theirs.to_dict("index").items()}}
    (directory / "channelattribution.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


def orders_on_data(ca, orders: list[int], nsim: float, repeat: int) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bench import interleaved, load, machine

    print(machine())
    print(f"ChannelAttribution's Data.csv by order: journeysim (exact, reads the file) against ChannelAttribution "
          f"(nsim_start={nsim:g}, nfold=1, max_step=1000, from memory); CPU seconds, median of {repeat} "
          "interleaved runs")
    print(f"{'order':>5} {'journeysim s':>13} {'CA s':>8} {'CA / journeysim':>16} {'largest diff':>13} "
          f"{'CA seed spread':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        df = pd.read_csv(REFERENCE / "Data.csv.gz", sep=";")
        path = Path(tmp) / "data.csv"
        df.to_csv(path, index=False)
        for order in orders:
            times = interleaved({"ours": lambda: ours_frame(path, order),
                                 "ca": lambda: run_ca(ca, df, nsim, 0, order)}, repeat)
            ours = ours_frame(path, order)
            theirs, again = (run_ca(ca, df, nsim, seed, order)["total_conversion_value"] for seed in (0, 1))
            big = ours["value"] / ours["value"].sum() >= 0.01
            diff = (ours.loc[big, "value"] / theirs[big] - 1).abs().max()
            spread = (again[big] / theirs[big] - 1).abs().max()
            a, b = float(np.median(times["ours"])), float(np.median(times["ca"]))
            print(f"{order:>5} {a:>13.2f} {b:>8.2f} {b / a:>15.1f}x {diff:>13.3%} {spread:>15.3%}", flush=True)
    print(load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e5,1e6",
                        help="numbers of simulated journeys, comma-separated ('' for none)")
    parser.add_argument("--nsim", type=float, default=1e7, help="ChannelAttribution's nsim_start")
    parser.add_argument("--data", help="ChannelAttribution's Data.csv (';'-separated)")
    parser.add_argument("--write-reference", metavar="DIR", help="write the tests' reference files into DIR")
    parser.add_argument("--orders", help="time both on Data.csv at these orders (e.g. 1,2,3) and stop")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ca = channelattribution()
    if args.orders:
        if ca is None:
            raise SystemExit("--orders needs ChannelAttribution (pip install channelattribution)")
        orders_on_data(ca, [int(o) for o in args.orders.split(",")], args.nsim, args.repeat)
        return
    if ca is None:
        print("ChannelAttribution is NOT installed (pip install channelattribution): printing journeysim only.")
    if args.write_reference:
        if ca is None:
            raise SystemExit("--write-reference needs ChannelAttribution")
        write_reference(ca, Path(args.write_reference), args.nsim)
        return
    simulated(ca, [int(float(s)) for s in args.sizes.split(",") if s], args.nsim)
    if ca is None:
        return
    if args.data:
        print(f"\n{args.data} (nsim_start={args.nsim:g})")
        with tempfile.TemporaryDirectory() as tmp:
            df = pd.read_csv(args.data, sep=";")
            df.to_csv(Path(tmp) / "data.csv", index=False)
            compare(ours_frame(Path(tmp) / "data.csv"), run_ca(ca, df, args.nsim, 0), run_ca(ca, df, args.nsim, 1))
    reference = json.loads((REFERENCE / "channelattribution.json").read_text(encoding="utf-8"))
    for name, orders in reference["files"].items():
        for order, stored in orders.items():
            print(f"\n{name}, order {order}: stored reference ({stored['call']})")
            theirs = pd.DataFrame(stored["result"]).T.sort_index()
            compare(ours_frame(REFERENCE / name, int(order)), theirs, None)


if __name__ == "__main__":
    main()
