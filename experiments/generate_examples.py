"""Regenerate the worked example in experiments/ (run from the repository root).

    python experiments/generate_examples.py

Predictions come from `journeysim predict` on the bundled hypotheses; the A/B
results are simulated with fixed seeds from a "true" lift chosen per test
(written below, so the example's verdicts can be checked against the truth);
the ledger is rebuilt by checking each prediction against its results.

The live-chat truths sit near that hypothesis's central predicted lift (+19.6%
since its chat takes its share from the cart's drop-off alone): about 0.9,
0.97 and 1.05 times it; the per-customer export is small (4,000 customers) so
that its test is underpowered, as the example means it to be.

The value test of `b2b-faster-trial.yaml` (metric `expected_value`) simulates its
leads on the maps themselves: control on the baseline map, the variant on the
hypothesis's variant at "true" values of its uncertain numbers (TRUE_B2B), each lead's
revenue the value of every goal it reaches (contracts and renewals), as many leads
per arm as `journeysim design` asks for.

The referral-programme test (`referral-programme.yaml`, metric `value_per_seed_customer`)
walks each arm's new customers and every customer their referrals bring, generation after
generation, on the baseline map and on the variant at its "true" friends per advocate
(TRUE_REFERRAL); each new customer is credited with their own revenue and that of everyone
they brought (a referral code), and the arms' sums are written as an aggregated result
(customers, conversions, revenue_sum, revenue_sumsq). It is not in the ledger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from journeysim.engines.eventlog import simulate_event_log, simulate_seed_totals, write_event_log
from journeysim.experiments.analysis import analyze_experiment
from journeysim.experiments.check import append_to_ledger, check_prediction
from journeysim.experiments.design import design_from_prediction
from journeysim.experiments.results import read_results
from journeysim.journey import Journey
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict, read_prediction, save_prediction

HERE = Path("experiments")
PREDICTIONS = {"live-chat": "scenarios/hypotheses/live-chat.yaml",
               "qr-kod-zlava": "scenarios/hypotheses/qr-kod-zlava.yaml",
               "b2b-faster-trial": "scenarios/hypotheses/b2b-faster-trial.yaml",
               "referral-programme": "scenarios/hypotheses/referral-programme.yaml"}
#: The "true" values of the value test's uncertain numbers (the variant's trial-to-proposal rate, the scaling of
#: trial-to-sales-call, the enterprise proposal-to-contract rate).
TRUE_B2B = {"changes[0].set.p": 0.41, "changes[1].scale.by": 1.2, "changes[3].set.p": 0.4}
#: The "true" friends each advocate brings with the voucher (the hypothesis says 1.2 to 2.0).
TRUE_REFERRAL = {"changes[0].touchpoint.refers.k": 1.5}
#: (results file, prediction, control customers per arm, true relative lift, seed)
AGGREGATED = [
    ("live-chat.aggregated.csv", "live-chat", 250_000, 0.19, 11),
    ("qr-kod-zlava.2025-spring.csv", "qr-kod-zlava", 150_000, 0.035, 12),
    ("qr-kod-zlava.2025-autumn.csv", "qr-kod-zlava", 8_000, 0.09, 13),
    ("live-chat.2026-retest.csv", "live-chat", 120_000, 0.206, 14),
    ("qr-kod-zlava.2026-spring.csv", "qr-kod-zlava", 60_000, 0.11, 15),
]


def per_customer(path: Path, base_rate: float, lift: float, customers: int, rng: np.random.Generator) -> None:
    """A raw export: yes/no flags, revenue, a pre-period covariate, a few repeat rows and cross-variant customers."""
    variant = rng.choice(["control", "live chat"], size=customers)
    pre = rng.lognormal(mean=3.0, sigma=0.8, size=customers)
    # loyal customers (high pre-period spend) convert more and spend more: what CUPED exploits
    propensity = np.sqrt(pre / pre.mean())
    rate = base_rate * propensity / propensity.mean() * np.where(variant == "live chat", 1 + lift, 1.0)
    converted = rng.random(customers) < np.clip(rate, 0, 1)
    revenue = np.where(converted, np.round(0.6 * pre + rng.gamma(4.0, 6.0, customers), 2), 0.0)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(customers)], "variant": variant,
                          "converted": np.where(converted, "yes", "no"),
                          "revenue": [f"{r:.2f}" if r else "0" for r in revenue],
                          "pre_revenue": np.round(pre, 1)})
    repeat = frame.sample(n=300, random_state=np.random.RandomState(rng.integers(2**31)))
    repeat = repeat.assign(converted="no", revenue="0")  # a second visit that did not buy
    swapped = frame.sample(n=40, random_state=np.random.RandomState(rng.integers(2**31)))
    swapped = swapped.assign(variant=np.where(swapped["variant"] == "control", "live chat", "control"))
    rows = pd.concat([frame, repeat, swapped]).sample(frac=1, random_state=np.random.RandomState(rng.integers(2**31)))
    rows.to_csv(path, index=False)


def per_customer_value(path: Path, control: Journey, variant: Journey, customers: int,
                       rng: np.random.Generator) -> None:
    """Per-customer revenue of leads walking the two maps: a lead converted if it signed a contract."""
    frames = []
    for arm, journey in (("control", control), ("guided trial", variant)):
        log = simulate_event_log(journey, customers, rng=rng, max_touches=10_000)
        goals = [n for n, tp in journey.touchpoints.items() if tp.goal]
        per = log.assign(goal=log["touchpoint"].isin(goals)).groupby("user_id").agg(
            converted=("goal", "any"), revenue=("value", "sum"))
        frames.append(pd.DataFrame({"user_id": [f"{arm[0]}{i}" for i in per.index], "variant": arm,
                                    "converted": per["converted"].to_numpy(),
                                    "revenue": per["revenue"].to_numpy(dtype=float)}))
    rows = pd.concat(frames).sample(frac=1, random_state=np.random.RandomState(rng.integers(2**31)))
    rows.to_parquet(path, index=False)


def per_seed_value(path: Path, control: Journey, variant: Journey, customers: int,
                   rng: np.random.Generator) -> None:
    """Each arm's new customers credited with their referral trees, summed per arm (an aggregated value result)."""
    rows = []
    for arm, journey in (("control", control), ("referral voucher", variant)):
        seeds = simulate_seed_totals(journey, customers, rng=rng, max_touches=10_000)
        rows.append({"variant": arm, "customers": customers, "conversions": int(seeds.converted.sum()),
                     "revenue_sum": float(seeds.value.sum()), "revenue_sumsq": float((seeds.value ** 2).sum())})
    pd.DataFrame(rows).to_csv(path, index=False)


def aggregated(path: Path, variant: str, base_rate: float, lift: float, customers: int, rng) -> None:
    n = rng.binomial(2 * customers, 0.5)
    arms = {"control": (2 * customers - n, base_rate), variant: (n, base_rate * (1 + lift))}
    rows = [{"variant": name, "customers": size, "conversions": int(rng.binomial(size, p))}
            for name, (size, p) in arms.items()]
    pd.DataFrame(rows).to_csv(path, index=False)


def sequential(rng: np.random.Generator) -> None:
    """The live-chat test run as a sequential design: the first two looks' totals, and the arms' event logs."""
    chat = read_prediction(HERE / "live-chat.prediction.json")
    design = design_from_prediction(chat, looks=5, traffic_per_day=4000)
    rates = {"control": chat.baseline, "live chat": chat.baseline * 1.177}
    done = {name: (0, 0) for name in rates}
    for look, customers in enumerate(design.look_customers()[:2], start=1):
        rows = []
        for name, rate in rates.items():
            seen, converted = done[name]
            converted += int(rng.binomial(customers - seen, rate))
            done[name] = (customers, converted)
            rows.append({"variant": name, "customers": customers, "conversions": converted})
        pd.DataFrame(rows).to_csv(HERE / f"live-chat.look{look}.csv", index=False)
    hyp = load_hypothesis("scenarios/hypotheses/live-chat.yaml")
    truth = hyp.variant({"changes[0].to.purchase": 0.5, "changes[1].scale.by": 0.8})
    for name, journey in (("control", hyp.baseline), ("variant", truth)):
        log = simulate_event_log(journey, 2000, rng=rng)
        write_event_log(log.drop(columns="segment"), HERE / f"live-chat.{name}-events.csv")


def exports(rng: np.random.Generator) -> None:
    """The live-chat aggregated test as exports come (docs/importing.md): a dashboard's per-arm summary with its
    own column names, and a daily export whose seven days sum exactly to the same counts."""
    totals = pd.read_csv(HERE / "live-chat.aggregated.csv")
    folder = HERE / "exports"
    folder.mkdir(exist_ok=True)
    totals.rename(columns={"variant": "Group", "customers": "Total_Users", "conversions": "Conversions"}).to_csv(
        folder / "ab-summary.csv", index=False)
    days = pd.date_range("2026-04-06", periods=7).strftime("%Y-%m-%d")
    weights = np.array([1.07, 1.0, 0.98, 1.0, 1.03, 0.93, 0.99])      # weekday traffic, weekend dip
    per_arm = {}
    for arm in totals.itertuples():
        users = rng.multinomial(arm.customers, weights / weights.sum())
        orders = rng.multivariate_hypergeometric(users, arm.conversions)      # every conversion on some day
        per_arm[arm.variant] = (users, orders)
    rows = [(day, arm, users[d], orders[d]) for d, day in enumerate(days) for arm, (users, orders) in per_arm.items()]
    pd.DataFrame(rows, columns=["date", "experiment_group", "users", "orders"]).to_csv(folder / "ab-daily.csv",
                                                                                      index=False)


def main() -> None:
    for name, hypothesis in PREDICTIONS.items():
        save_prediction(predict(hypothesis, draws=1000, rng=np.random.default_rng(2026), seed=2026),
                        HERE / f"{name}.prediction.json")
    chat = read_prediction(HERE / "live-chat.prediction.json")
    per_customer(HERE / "live-chat.results.csv", chat.baseline, 0.177, 4_000, np.random.default_rng(10))
    for file, pred, customers, lift, seed in AGGREGATED:
        base = read_prediction(HERE / f"{pred}.prediction.json").baseline
        variant = "live chat" if pred == "live-chat" else "qr code"
        aggregated(HERE / file, variant, base, lift, customers, np.random.default_rng(seed))
    b2b = load_hypothesis(PREDICTIONS["b2b-faster-trial"])
    size = design_from_prediction(read_prediction(HERE / "b2b-faster-trial.prediction.json")).n_per_arm
    per_customer_value(HERE / "b2b-faster-trial.results.parquet", b2b.baseline, b2b.variant(TRUE_B2B), size,
                       np.random.default_rng(17))
    referral = load_hypothesis(PREDICTIONS["referral-programme"])
    size = design_from_prediction(read_prediction(HERE / "referral-programme.prediction.json")).n_per_arm
    per_seed_value(HERE / "referral-programme.results.csv", referral.baseline, referral.variant(TRUE_REFERRAL), size,
                   np.random.default_rng(19))
    rebuild_ledger()
    sequential(np.random.default_rng(16))
    exports(np.random.default_rng(18))


def rebuild_ledger() -> None:
    """Check every prediction against its results again, into a new ledger."""
    ledger = HERE / "ledger.csv"
    ledger.unlink(missing_ok=True)
    checks = ([("live-chat", "live-chat.results.csv")] + [(pred, file) for file, pred, *_ in AGGREGATED]
              + [("b2b-faster-trial", "b2b-faster-trial.results.parquet")])
    for i, (pred, file) in enumerate(checks):
        result = check_prediction(read_prediction(HERE / f"{pred}.prediction.json"),
                                  analyze_experiment(read_results(HERE / file)))
        append_to_ledger(ledger, result, checked_at=f"2026-{i + 1:02d}-15T12:00:00Z")
        print(f"{file}: {result.verdict} (z = {result.z:.2f})")


if __name__ == "__main__":
    main()
