"""``journeysim analyze RESULTS``: every variant of an A/B test against control."""

from __future__ import annotations

import sys

from journeysim.cli._experiment_args import (
    add_results_options,
    analysis_options,
    analyze_from_args,
    results_from_args,
)
from journeysim.cli._options import add_currency, unused, whole
from journeysim.cli._render import emit, to_json
from journeysim.errors import UsageError

__all__ = ["register"]


#: Shown at the end of ``--help``.
EXAMPLES = (
    'analyze experiments/live-chat.results.csv',
    'analyze results.csv --converted-column bought --control A',
)


def register(sub) -> None:
    p = sub.add_parser("analyze",
                       description="Per variant against control: conversion rate with Wilson interval, difference "
                       "(Newcombe) and relative lift (log ratio) with intervals, z-test p-value (Holm-adjusted with "
                       "several variants), sample-ratio-mismatch check, Bayesian probability to beat control and "
                       "expected loss; revenue with Welch's t-test and CUPED. Input: per-customer rows (user_id, "
                       "variant, converted[, revenue, pre_*]) or aggregated rows (variant, customers, conversions"
                       "[, revenue_sum, revenue_sumsq]; several rows per variant, e.g. one per day, are summed).")
    p.add_argument("results", metavar="RESULTS", help="the A/B result: per-customer or aggregated rows (CSV or Parquet)")
    add_results_options(p)
    p.add_argument("--guardrail", action="append", default=[], metavar="METRIC=MARGIN",
                   help="a guardrail to test for non-inferiority: conversion_rate or expected_value and the most "
                        "harm allowed in its units (e.g. conversion_rate=0.002); repeat for several")
    p.add_argument("--look", metavar="k", help="this is interim look k of a sequential design: say stop or continue")
    p.add_argument("--of", metavar="K", help="the design's number of looks (with --look)")
    p.add_argument("--spending", choices=("obrien-fleming", "pocock"), default=None,
                   help="the design's alpha spending (with --look --of; default obrien-fleming)")
    p.add_argument("--design", metavar="DESIGN.json", help="the design file (`design --looks K --json`) instead of --of")
    p.add_argument("--by", metavar="COLUMN",
                   help="analyse each group of COLUMN (a day, a segment) apart too, and pool them (Cochran-Mantel-"
                        "Haenszel, with the Breslow-Day test that the effect is the same in every group)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_currency(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    look = _look(args)
    if args.by is not None:
        unused({"--look": look, "--guardrail": args.guardrail or None},
               "with --by (an interim look and guardrails read the summed totals)")
        return _stratified(args)
    rails = _guardrails(args)
    data = results_from_args(args, args.results)
    analysis = analyze_from_args(args, data)
    extra = {}
    if look is not None:
        from journeysim.experiments.sequential import interim_look

        extra["look"] = interim_look(analysis, look["look"], look["of"], spending=look["spending"], plan=look["plan"])
    if rails:
        from journeysim.experiments.guardrails import check_guardrails, observable

        for rail in rails:
            if (why := observable(data, rail)) is not None:
                raise UsageError(f"--guardrail {rail.metric}: {why}")
        extra["guardrails"] = check_guardrails(data, rails, control=analysis.control, alpha=analysis.alpha)
    if not extra:
        emit(analysis, args.json)
    elif args.json:
        print(to_json({**analysis.to_dict(), **{k: v.to_dict() for k, v in extra.items()}}))
    else:
        print("\n".join([analysis.summary(), *(v.summary() for v in extra.values())]))
    _warn_srm(analysis, args.results)
    return 0


def _stratified(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments.strata import analyze_strata

    data = results_from_args(args, args.results, by=args.by)
    analysis = analyze_strata(data, **analysis_options(args, len(data.arms)))
    emit(analysis, args.json)
    _warn_srm(analysis, args.results)
    return 0


def _warn_srm(analysis, path: str) -> None:
    from journeysim.experiments.analysis import SRM_THRESHOLD

    if analysis.srm_warning:
        print(f"WARNING: sample ratio mismatch in {path} (p = {analysis.srm_pvalue:.3g} < {SRM_THRESHOLD:g}): "
              "do not trust these results before finding the cause", file=sys.stderr)


def _guardrails(args) -> list:
    if not args.guardrail:
        return []
    from journeysim.engines.metrics import SCALAR_METRICS
    from journeysim.whatif.guardrails import guardrail_from_text

    return [guardrail_from_text(text, SCALAR_METRICS) for text in args.guardrail]


def _look(args) -> dict | None:
    """The interim-look options, checked before the file is read."""
    look = whole("--look", args.look, minimum=1)
    if look is None:
        unused({"--of": args.of, "--spending": args.spending, "--design": args.design},
               "without --look (they describe a sequential design's looks)")
        return None
    if (args.of is None) == (args.design is None):
        raise UsageError("--look needs the design: --of K (and --spending) or --design DESIGN.json, not both")
    plan = None
    if args.design is not None:
        from journeysim._files import read_document
        from journeysim.errors import ScenarioError
        from journeysim.experiments.sequential import plan_from_design

        unused({"--spending": args.spending}, "with --design (the design file says how its looks spend alpha)")
        data, problems = read_document(args.design)
        if problems:
            raise ScenarioError(problems[0])
        plan = plan_from_design(data, args.design)
    return {"look": look, "of": whole("--of", args.of, minimum=2), "spending": args.spending or "obrien-fleming",
            "plan": plan}
