"""First-order Markov attribution: journeysim against ChannelAttribution (PyPI ``channelattribution``).

    python benchmarks/attribution_vs_channelattribution.py [--sizes 1e5,1e6] [--nsim 1e7]

For each size, simulates that many journeys (one path row each, ``total_conversions`` 0 or 1 and
``total_null`` its complement) on a random 12-channel map with loops (fixed seed), writes the
path file, and compares:

* journeysim: ``attribute_file(path, ["markov"])`` (reading the CSV included; removal effects
  solved exactly by linear algebra);
* ChannelAttribution: ``markov_model`` on the same rows (already in memory), with its most
  exact settings: ``nsim_start`` simulations (default 1e7), ``max_step=1000`` (its default caps
  simulated paths at the longest observed one, which biases removal effects on maps with loops)
  and the default ``conv_par=0.05`` (with 1e7 simulations the first round already converges).

Prints both run times, the attributed conversions and normalised removal effects side by side,
ChannelAttribution's own seed-to-seed spread (its Monte Carlo error),
and the largest relative difference (target: within 1 %). ChannelAttribution is optional
(``pip install -e .[bench]``); without it, only journeysim's timings are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
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


def random_map(rng: np.random.Generator) -> Journey:
    rows = {}
    for c in CHANNELS:
        targets = rng.choice(CHANNELS, size=3, replace=False)
        weights = rng.dirichlet(np.ones(5)) * 0.9
        rows[c] = {t: float(w) for t, w in zip(targets, weights[:3])}
        rows[c]["buy"] = float(weights[3] * 0.5)
    entry = dict(zip(CHANNELS, rng.dirichlet(np.ones(len(CHANNELS))).tolist()))
    return Journey.from_rows(entry, rows, goals=["buy"], touchpoint_attributes={"buy": {"value": 50.0}})


def path_rows(journey: Journey, journeys: int, rng: np.random.Generator) -> pd.DataFrame:
    log = simulate_event_log(journey, journeys, rng=rng, span=0)
    con = duckdb.connect()
    con.register("log", log)
    return con.execute("""
        SELECT string_agg(touchpoint, ' > ' ORDER BY timestamp) FILTER (WHERE touchpoint <> 'buy') AS path,
               count(*) FILTER (WHERE touchpoint = 'buy') AS total_conversions,
               1 - count(*) FILTER (WHERE touchpoint = 'buy') AS total_null,
               sum(value) AS total_conversion_value
        FROM log GROUP BY user_id ORDER BY user_id""").df()


def run_ca(ca, df: pd.DataFrame, nsim: float, seed: int):
    with contextlib.redirect_stdout(io.StringIO()):
        return ca.markov_model(df, "path", "total_conversions", var_null="total_null", order=1, out_more=True,
                               sep=">", nsim_start=nsim, max_step=1000, conv_par=0.05, seed=seed, verbose=False,
                               flg_pro=False)


def channelattribution():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import ChannelAttribution
        return ChannelAttribution
    except ImportError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e5,1e6", help="numbers of journeys (path rows), comma-separated")
    parser.add_argument("--nsim", type=float, default=1e7, help="ChannelAttribution's nsim_start")
    args = parser.parse_args()
    ca = channelattribution()
    if ca is None:
        print("ChannelAttribution is NOT installed (pip install channelattribution): printing journeysim only.")
    journey = random_map(np.random.default_rng(2024))
    rng = np.random.default_rng(2025)
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(float(s)) for s in args.sizes.split(",")):
            df = path_rows(journey, size, rng)
            path = Path(tmp) / "paths.csv"
            df.to_csv(path, index=False)
            start = time.perf_counter()
            ours = attribute_file(path, ["markov"])
            t_ours = time.perf_counter() - start
            print(f"\n{size:,} paths ({int(df.total_conversions.sum()):,} conversions)")
            print(f"  journeysim markov (exact, from the CSV file): {t_ours:.2f} s")
            if ca is None:
                continue
            start = time.perf_counter()
            res = run_ca(ca, df, args.nsim, seed=0)
            t_ca = time.perf_counter() - start
            print(f"  ChannelAttribution markov_model (nsim_start={args.nsim:g}, from memory): {t_ca:.2f} s "
                  f"({t_ca / t_ours:.1f}x journeysim's time)")
            theirs = res["result"].set_index("channel_name")["total_conversions"]
            re = res["removal_effects"].set_index("channel_name")["removal_effect"]
            re = re / re.sum()
            ours_re = pd.Series(dict(ours.removal_effects))
            ours_re = ours_re / ours_re.sum()
            ours_conv = pd.Series({k: v[0] for k, v in ours.models["markov"].items()})
            table = pd.DataFrame({"journeysim conv": ours_conv, "CA conv": theirs,
                                  "journeysim RE (norm.)": ours_re, "CA RE (norm.)": re})
            print(table.round(4).to_string())
            worst = max(((table["journeysim conv"] - table["CA conv"]).abs() / table["CA conv"]).max(),
                        ((table["journeysim RE (norm.)"] - table["CA RE (norm.)"]).abs() / table["CA RE (norm.)"]).max())
            print(f"  largest relative difference: {worst:.4%} ({'within' if worst <= 0.01 else 'OUTSIDE'} 1%)")
            # ChannelAttribution samples: its own run-to-run spread shows how much of the gap is its noise.
            again = run_ca(ca, df, args.nsim, seed=1)["result"].set_index("channel_name")["total_conversions"]
            spread = ((again - theirs).abs() / theirs).max()
            print(f"  ChannelAttribution seed 0 vs seed 1, largest relative difference: {spread:.4%}")


if __name__ == "__main__":
    main()
