"""Options shared by the experiment commands: reading an A/B result file and analysing it."""

from __future__ import annotations

from journeysim.cli._options import number

__all__ = ["add_results_options", "analysis_from_args"]


def add_results_options(p) -> None:
    p.add_argument("--control", metavar="NAME", help="the control variant (default: the one named 'control')")
    p.add_argument("--expected-split", metavar="A/B[/C...]",
                   help="expected shares of customers, control first then the variants in file order (default: equal)")
    p.add_argument("--alpha", default="0.05", help="1 - level of the intervals and the test level (default 0.05)")
    p.add_argument("--user-column", default="user_id", metavar="NAME", help="per-customer files: customer id column")
    p.add_argument("--variant-column", default="variant", metavar="NAME", help="the variant column")
    p.add_argument("--converted-column", default="converted", metavar="NAME",
                   help="per-customer files: conversion flag (0/1, true/false, yes/no)")
    p.add_argument("--revenue-column", default="revenue", metavar="NAME", help="per-customer files: revenue column")
    p.add_argument("--covariate-column", metavar="NAME",
                   help="per-customer files: pre-period covariate for CUPED (default: the first column named pre_*)")


def analysis_from_args(args, path: str):
    """Read and analyse ``path`` with the shared options (an ``ExperimentAnalysis``)."""
    # imported here, not at the top: pandas and statsmodels take seconds to load and every command would pay
    from journeysim.experiments._results import read_results
    from journeysim.experiments.analysis import analyze_experiment, parse_split

    data = read_results(path, user_column=args.user_column, variant_column=args.variant_column,
                        converted_column=args.converted_column, revenue_column=args.revenue_column,
                        covariate_column=args.covariate_column)
    split = None if args.expected_split is None else parse_split(args.expected_split, len(data.arms))
    alpha = number("--alpha", args.alpha, above=0, below=1)
    return analyze_experiment(data, control=args.control, expected_split=split, alpha=alpha)
