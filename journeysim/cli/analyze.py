"""``journeysim analyze RESULTS``: every variant of an A/B test against control."""

from __future__ import annotations

import sys

from journeysim.cli._experiment_args import add_results_options, analysis_from_args
from journeysim.cli._render import emit

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("analyze", help="analyse an A/B test result (CSV or Parquet)",
                       description="Per variant against control: conversion rate with Wilson interval, difference "
                       "(Newcombe) and relative lift (log ratio) with intervals, z-test p-value (Holm-adjusted with "
                       "several variants), sample-ratio-mismatch check, Bayesian probability to beat control and "
                       "expected loss; revenue with Welch's t-test and CUPED. Input: per-customer rows (user_id, "
                       "variant, converted[, revenue, pre_*]) or aggregated rows (variant, customers, conversions"
                       "[, revenue_sum, revenue_sumsq]).")
    p.add_argument("results", metavar="RESULTS")
    add_results_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=run)


def run(args) -> int:
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments.analysis import SRM_THRESHOLD

    analysis = analysis_from_args(args, args.results)
    emit(analysis, args.json)
    if analysis.srm_warning:
        print(f"WARNING: sample ratio mismatch in {args.results} (p = {analysis.srm_pvalue:.3g} < {SRM_THRESHOLD:g}): "
              "do not trust these results before finding the cause", file=sys.stderr)
    return 0
