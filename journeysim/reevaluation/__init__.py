"""Re-evaluation of a journey map over time: which touchpoints changed, and how much they matter now.

Maps carry observation counts (``observations: {touchpoint: n, entry: n}``, per segment too,
as ``fit`` writes them), or are hand-drawn and given pseudo-counts (``prior_strength``).
:func:`reevaluate` compares two periods touchpoint by touchpoint (:mod:`~.pair`: row tests,
removal-effect change intervals from :mod:`~.effects`, verdicts that say "inconclusive"
rather than "still works" when the interval is too wide); :func:`reevaluate_periods` compares
several, with each touchpoint's trend over all of them (:mod:`~.trend`). :mod:`~.counts`
reads the maps and logs and draws rows from their posteriors.
"""

from journeysim.reevaluation.counts import LOG_SUFFIXES, CountedMap, load_counted, read_counted, with_pseudo_counts
from journeysim.reevaluation.effects import BASES
from journeysim.reevaluation.pair import (
    DROP_OFF_RISE,
    MIN_EFFECT,
    PRECISION,
    VERDICTS,
    Reevaluation,
    TouchpointChange,
    reevaluate,
    row_tests,
)
from journeysim.reevaluation.trend import (
    TREND_VERDICTS,
    PeriodReevaluation,
    TouchpointTrend,
    reevaluate_periods,
    trend_test,
    trend_tests,
)

__all__ = ["VERDICTS", "TREND_VERDICTS", "BASES", "MIN_EFFECT", "DROP_OFF_RISE", "PRECISION", "TouchpointChange",
           "Reevaluation", "TouchpointTrend", "PeriodReevaluation", "row_tests", "reevaluate", "reevaluate_periods",
           "trend_test", "trend_tests", "CountedMap", "read_counted", "load_counted", "with_pseudo_counts", "LOG_SUFFIXES"]
