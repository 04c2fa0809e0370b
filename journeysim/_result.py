"""What every result offers a notebook: a short ``repr``, ``str`` as the summary, HTML, and a tidy table.

A result class derives from :class:`Result` (with ``@dataclass(frozen=True, repr=False)``
so that the dataclass keeps this ``repr``) and defines ``summary()``, ``to_dict()``,
``_headline()`` (a few key figures, one line) and ``_table()`` (the column names
and rows of its tidy table, which :meth:`Result.to_frame` turns into a DataFrame).
"""

from __future__ import annotations

import html

__all__ = ["Result"]


class Result:
    """Mixin: ``repr`` is one short line, ``str`` the text summary, and Jupyter shows the summary.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, repr=False)
    ... class Count(Result):
    ...     n: int
    ...     def summary(self): return f"{self.n} customers"
    ...     def to_dict(self): return {"n": self.n}
    ...     def _headline(self): return f"n={self.n}"
    ...     def _table(self): return ["n"], [(self.n,)]
    >>> Count(3), str(Count(3)), Count(3).to_frame().n.tolist()
    (<Count n=3>, '3 customers', [3])
    """

    def to_frame(self):
        """The result as a tidy pandas DataFrame (one row per observation, one column per variable)."""
        import pandas as pd

        columns, rows = self._table()
        return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._headline()}>"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"
