"""Options shared by the experiment commands: reading an A/B result file and analysing it."""

from __future__ import annotations

from journeysim.cli._options import number, unused
from journeysim.errors import DataError, excerpt

__all__ = ["add_results_options", "analysis_from_args", "analysis_options", "results_from_args"]

#: Column options of per-customer files, with their default column names.
_PER_CUSTOMER = {"--user-column": "user_id", "--converted-column": "converted", "--revenue-column": "revenue"}
#: Column options of aggregated files (one row per variant, or per variant and day or segment).
_AGGREGATED = {"--customers-column": "customers", "--conversions-column": "conversions",
               "--revenue-sum-column": "revenue_sum", "--revenue-sumsq-column": "revenue_sumsq"}


def add_results_options(p) -> None:
    p.add_argument("--control", metavar="NAME", help="the control variant (default: the one named 'control')")
    p.add_argument("--expected-split", metavar="A/B[/C...]",
                   help="expected shares of customers, control first then the variants in file order (default: equal)")
    p.add_argument("--alpha", default="0.05", help="1 - level of the intervals and the test level (default 0.05)")
    # Per-customer column options default to None so that giving one for an aggregated file can be refused.
    p.add_argument("--user-column", metavar="NAME",
                   help=f"per-customer files: customer id column (default {_PER_CUSTOMER['--user-column']})")
    p.add_argument("--variant-column", default="variant", metavar="NAME", help="the variant column")
    p.add_argument("--converted-column", metavar="NAME",
                   help="per-customer files: conversion flag (0/1, true/false, yes/no; default "
                        f"{_PER_CUSTOMER['--converted-column']})")
    p.add_argument("--revenue-column", metavar="NAME",
                   help=f"per-customer files: revenue column (default {_PER_CUSTOMER['--revenue-column']}, if present)")
    p.add_argument("--covariate-column", metavar="NAME",
                   help="per-customer files: pre-period covariate for CUPED (default: the first column named pre_*)")
    # Naming one of these makes the file an aggregated one (and its column required).
    for option, default in _AGGREGATED.items():
        what = option[2:-len("-column")].replace("-", " ")
        p.add_argument(option, metavar="NAME", help=f"aggregated files: the {what} column (default {default})")


def results_from_args(args, path: str, *, by: str | None = None):
    """Read ``path`` with the shared column options (an ``ExperimentData``); ``by``: keep its groups apart too."""
    # imported here, not at the top: pandas takes a while to load and every command would pay
    from journeysim.experiments.results import read_results

    given = {option: getattr(args, option[2:].replace("-", "_")) for option in (*_PER_CUSTOMER, "--covariate-column")}
    names = {option: given[option] or default for option, default in _PER_CUSTOMER.items()}
    aggregated = {option[2:].replace("-", "_"): getattr(args, option[2:].replace("-", "_")) for option in _AGGREGATED}
    data = read_results(path, user_column=names["--user-column"], variant_column=args.variant_column,
                        converted_column=names["--converted-column"], revenue_column=names["--revenue-column"],
                        covariate_column=args.covariate_column, by=by, **aggregated)
    if data.kind == "aggregated":
        unused(given, f"on {path}: it holds aggregated results (variant, customers, conversions), "
                      "not per-customer rows")
    elif args.revenue_column is not None and not any(arm.has_revenue for arm in data.arms.values()):
        raise DataError(f"{path}: missing column {excerpt(args.revenue_column)} (named by --revenue-column)")
    return data


def analysis_from_args(args, path: str):
    """Read and analyse ``path`` with the shared options (an ``ExperimentAnalysis``)."""
    return analyze_from_args(args, results_from_args(args, path))


def analyze_from_args(args, data):
    """Analyse read results (an ``ExperimentData``) with the shared options (control, expected split, alpha)."""
    from journeysim.experiments.analysis import analyze_experiment

    return analyze_experiment(data, **analysis_options(args, len(data.arms)))


def analysis_options(args, arms: int) -> dict:
    """``control``, ``expected_split`` and ``alpha`` from the shared options, for ``arms`` variants."""
    from journeysim.experiments.analysis import parse_split

    split = None if args.expected_split is None else parse_split(args.expected_split, arms)
    alpha = number("--alpha", args.alpha, above=0, below=1, percent=True)
    return {"control": args.control, "expected_split": split, "alpha": alpha}
