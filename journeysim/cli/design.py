"""``journeysim design``: customers, days and detectable effect of an A/B test, or its assurance for a prediction."""

from __future__ import annotations

from journeysim.cli._options import number, unused, whole
from journeysim.cli._render import emit
from journeysim.errors import UsageError, excerpt

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'design --baseline 5% --lift 10% --traffic 2,000/day',
    'design experiments/live-chat.prediction.json --traffic 2000/day',
)


def register(sub) -> None:
    p = sub.add_parser("design",
                       description="Customers per arm and in total, days at the given traffic, the minimum detectable "
                       "effect for --customers, and for a saved prediction the assurance (power averaged over the "
                       "predicted lift's draws). Either --baseline and --lift (with --sd: a mean value per customer, "
                       "t-test), or PREDICTION.json (conversion_rate, expected_value or value_per_seed_customer).")
    p.add_argument("prediction", nargs="?", metavar="PREDICTION.json", help="a prediction saved by `predict --save`")
    p.add_argument("--baseline", help="control conversion rate, e.g. 0.05 or 5%%, or with --sd the mean value per "
                   "customer (with a prediction: replaces the map's)")
    p.add_argument("--sd", help="standard deviation of value per customer in control: the test is on mean value "
                   "(t-test); with a value prediction it replaces the map's")
    p.add_argument("--hypothesis", metavar="FILE", help="value predictions: the hypothesis file whose maps give the "
                   "per-customer spread (default: the prediction's hypothesis_file)")
    p.add_argument("--allow-outside", action="store_true",
                   help="read the prediction's hypothesis_file even if it lies outside the prediction's project")
    p.add_argument("--lift", help="effect to detect: relative in percent (10%% = +10%%), absolute in percentage points "
                                  "(0.5pp) or as a number: absolute (0.005), or relative with --relative (0.10)")
    p.add_argument("--relative", action="store_true", help="--lift is relative to --baseline")
    p.add_argument("--alpha", default="0.05", help="significance level (default 0.05; 5%% also reads)")
    p.add_argument("--power", default="0.8", help="power (default 0.8; 80%% also reads)")
    p.add_argument("--ratio", default="1", help="customers in each variant arm per control customer (default 1)")
    p.add_argument("--arms", default="2", help="arms including control (default 2; alpha is split over variants)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--two-sided", dest="two_sided", action="store_true", default=True, help="two-sided test (default)")
    side.add_argument("--one-sided", dest="two_sided", action="store_false", help="one-sided test in the lift's direction")
    p.add_argument("--traffic", metavar="N/UNIT", help="customers entering the test, e.g. 2,000/day, 90/hour, 14000/week")
    p.add_argument("--customers", help="customers available in total: report the minimum detectable effect")
    p.add_argument("--method", choices=("normal", "arcsine"), default="normal",
                   help="normal: R power.prop.test formula (default); arcsine: Cohen's h")
    p.add_argument("--looks", metavar="K", help="plan K equally spaced interim looks (the final one included)")
    p.add_argument("--spending", choices=("obrien-fleming", "pocock"), default=None,
                   help="alpha spending of the looks (Lan-DeMets; default obrien-fleming)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=run)


def run(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim._files import OWN_PROJECT
    from journeysim.experiments.design import (
        design_experiment,
        design_from_prediction,
        parse_traffic,
    )
    from journeysim.whatif.prediction import read_prediction

    options = dict(
        alpha=number("--alpha", args.alpha, above=0, below=1, percent=True),
        power=number("--power", args.power, above=0, below=1, percent=True),
        ratio=number("--ratio", args.ratio, above=0), arms=whole("--arms", args.arms, minimum=2),
        two_sided=args.two_sided, method=args.method,
        traffic_per_day=None if args.traffic is None else parse_traffic(args.traffic),
        customers=whole("--customers", args.customers, minimum=1),
        looks=whole("--looks", args.looks, minimum=2),
        spending=args.spending or "obrien-fleming",
    )
    if options["looks"] is None:
        unused({"--spending": args.spending}, "without --looks (it sets how the looks spend alpha)")
    # The range of --baseline depends on the metric (a rate, or a mean value): the library checks it.
    baseline = number("--baseline", args.baseline, above=0, percent=True)
    sd = number("--sd", args.sd, above=0)
    if args.prediction is not None:
        if args.lift is not None or args.relative:
            raise UsageError("--lift and --relative do not apply to a prediction (its predicted lift is used)")
        emit(design_from_prediction(read_prediction(args.prediction), baseline=baseline, sd=sd,
                                    hypothesis=args.hypothesis,
                                    within=None if args.allow_outside else OWN_PROJECT, **options), args.json)
        return 0
    unused({"--hypothesis": args.hypothesis}, "without a PREDICTION.json (it names the prediction's hypothesis)")
    if baseline is None:
        raise UsageError("give --baseline (the control conversion rate, or with --sd the mean value per customer) "
                         "or a PREDICTION.json")
    lift, relative = _lift(args.lift, args.relative)
    if lift is None:
        unused({"--relative": args.relative}, "without --lift (it makes --lift relative to --baseline)")
    emit(design_experiment(baseline, lift, relative=relative, sd=sd, **options), args.json)
    return 0


def _lift(text: str | None, relative: bool) -> tuple[float | None, bool]:
    """``(lift, relative)`` from ``--lift``: ``10%`` is relative, ``0.5pp`` absolute, a number as ``--relative`` says.

    Examples
    --------
    >>> _lift("10%", False), _lift("0.5pp", False), _lift("0.005", False), _lift("0.1", True)
    ((0.1, True), (0.005, False), (0.005, False), (0.1, True))
    >>> _lift("0.5pp", True)
    Traceback (most recent call last):
    journeysim.errors.UsageError: --lift '0.5pp' is in percentage points, an absolute lift: it cannot be --relative
    """
    if text is None:
        return None, relative
    written = text.strip()
    if written.endswith("%"):
        return number("--lift", written, percent=True), True
    if written.lower().endswith("pp"):
        if relative:
            raise UsageError(f"--lift {excerpt(text)} is in percentage points, an absolute lift: it cannot be --relative")
        return number("--lift", written[:-2].strip()) / 100, False
    return number("--lift", written), relative
