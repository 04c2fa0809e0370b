"""Event logs and path files: reading them (CSV, Parquet; DuckDB) and counting what they hold.

:mod:`~.sources` opens files and checks columns; :mod:`~.counts` counts transitions, first visits and
delays (the DuckDB pass, or :mod:`~._stream`'s one pass over a clean CSV read by :mod:`~._csv`);
:mod:`~.paths` builds conversion paths; :mod:`~.stages` reads a touchpoint-to-stage file.
"""
