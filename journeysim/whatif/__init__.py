"""What if: change operations on a journey, uncertain numbers, hypothesis files, predictions, plans
and batch runs.

:mod:`~.changes` applies changes; :mod:`~.uncertain` holds ranges and distributions;
:mod:`~.hypothesis` reads hypothesis files; :mod:`~.prediction` predicts and reads/writes prediction
files; :mod:`~.plan` and :mod:`~.runs` run many items (locally or on Dask).
"""
