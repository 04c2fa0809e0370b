"""Running a plan's items on local processes or a Dask cluster, resumably.

Each item's random stream is ``numpy.random.default_rng(seed)`` (a
``SeedSequence`` of the item's seed), so an item gives the same numbers in-process,
in a worker process or on a Dask worker, and an unswept item matches
``journeysim predict FILE --seed S``. Each finished item is written atomically to
``OUTDIR/items/<id>.json`` by the coordinating process; ``resume`` skips items
whose file is there. The tables ``results.csv`` and ``results.jsonl`` (one row per
item, plan order) are written when every item is done.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from journeysim._files import write_atomic
from journeysim._result import Result
from journeysim._text import format_table, pct, pct_interval, rate, wrap
from journeysim.errors import ScenarioError, UsageError
from journeysim.whatif.plan import Plan, item_hypothesis, load_plan
from journeysim.whatif.prediction import change_format, predict

__all__ = ["RunResult", "run_item", "run_plan", "local_cluster", "COLUMNS"]

#: Columns of the results table, in order.
COLUMNS = (
    "id", "hypothesis", "file", "sweep", "engine", "seed", "draws", "metric", "baseline", "variant",
    "lift_abs", "lift_abs_low", "lift_abs_high", "lift_rel", "lift_rel_low", "lift_rel_high", "prob_positive",
    "interval_level", "method",
)


@dataclass(frozen=True, repr=False)
class RunResult(Result):
    """Rows of a finished plan (plan order), where they were written and how many items ran now."""

    plan: str
    outdir: str
    rows: tuple[Mapping[str, Any], ...]
    ran: int
    resumed: int
    backend: str

    def ranking(self) -> list[Mapping[str, Any]]:
        """Rows by predicted relative lift, largest first: comparable across metrics (ties keep plan order).

        A row whose baseline is 0 (no relative lift) ranks after the others, by absolute lift.
        """
        return sorted(self.rows, key=lambda r: (r["lift_rel"] is None, -(r["lift_rel"] if r["lift_rel"] is not None
                                                                        else r["lift_abs"])))

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "outdir": self.outdir, "items": len(self.rows), "ran": self.ran,
                "resumed": self.resumed, "backend": self.backend, "ranking": [dict(r) for r in self.ranking()]}

    def summary(self) -> str:
        """The ranking by predicted relative lift; engine and seed get a column only when the plan varies them."""
        ranking = self.ranking()
        varies = [key for key in ("engine", "seed") if len({r[key] for r in ranking}) > 1]
        rows = []
        for rank, r in enumerate(ranking, 1):
            sweep = ", ".join(f"{k}={v}" for k, v in json.loads(r["sweep"]).items())
            change = change_format(r["metric"])
            rows.append((f"{rank}. {r['hypothesis']}" + (f" [{sweep}]" if sweep else "") + f" ({r['metric']})",
                         *(str(r[key]) for key in varies), pct(r["lift_rel"]),
                         pct_interval((r["lift_rel_low"], r["lift_rel_high"])), change(r["lift_abs"]),
                         rate(r["prob_positive"])))
        level = f"{self.rows[0]['interval_level']:.0%}" if self.rows else ""
        table = format_table(f"{self.plan}: ranking by predicted relative lift",
                             ["hypothesis (metric)", *varies, "lift", f"{level} interval", "absolute",
                              "P(lift > 0)"], rows)
        same = ", ".join(f"{key} {ranking[0][key]}" for key in ("engine", "seed") if key not in varies and ranking)
        return (f"{table}\n" + wrap(f"{len(self.rows)} items ({self.ran} run now, {self.resumed} resumed) on "
                                     f"{self.backend}" + (f"; {same}" if same else "") + f"; results in "
                                     f"{self.outdir}/results.csv and results.jsonl"))

    def _headline(self) -> str:
        return f"{self.plan}: {len(self.rows)} items ({self.ran} run now, {self.resumed} resumed) on {self.backend}"

    def _table(self):
        """The results table, one row per plan item (plan order)."""
        return COLUMNS, [tuple(r.get(c) for c in COLUMNS) for r in self.rows]


def run_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Predict one plan item and return its results-table row (keys :data:`COLUMNS`).

    Examples
    --------
    >>> item = load_plan("scenarios/plans/next-quarter.yaml").items[1]
    >>> row = run_item({**item, "draws": 50})
    >>> row["sweep"], row["engine"], row["lift_abs_low"] < row["lift_abs"] < row["lift_abs_high"]
    ('{"changes[0].from.cart.p": 0.05}', 'exact', True)
    """
    hyp = item_hypothesis(item["path"], item["sweep"])
    p = predict(hyp, engine=item["engine"], draws=item["draws"], level=item["level"],
                rng=np.random.default_rng(item["seed"]), size=item["size"] if item["engine"] != "exact" else None,
                seed=item["seed"])
    return {
        "id": item["id"], "hypothesis": p.hypothesis, "file": item["file"],
        "sweep": json.dumps(item["sweep"], ensure_ascii=False, sort_keys=True), "engine": p.engine,
        "seed": item["seed"], "draws": p.draws, "metric": p.metric, "baseline": p.baseline, "variant": p.variant,
        "lift_abs": p.lift_abs, "lift_abs_low": p.lift_abs_interval[0], "lift_abs_high": p.lift_abs_interval[1],
        "lift_rel": p.lift_rel, "lift_rel_low": p.lift_rel_interval[0], "lift_rel_high": p.lift_rel_interval[1],
        "prob_positive": p.prob_positive, "interval_level": p.interval_level, "method": p.method,
    }


def _done(path: Path, item: Mapping[str, Any]) -> dict | None:
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and row.get("id") == item["id"] else None


@contextlib.contextmanager
def _progress(total: int, done: int, show: bool) -> Iterator:
    if not show:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), "left", TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True) as bar:
        task = bar.add_task("items", total=total, completed=done)
        yield lambda: bar.advance(task)


def _local(items: list, workers: int) -> Iterator[dict]:
    if not items:
        return
    if workers == 1 or len(items) == 1:
        yield from (run_item(i) for i in items)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)))
    try:
        for future in as_completed([pool.submit(run_item, i) for i in items]):
            yield future.result()
    finally:
        # On an interruption, items not started yet are dropped rather than waited for.
        pool.shutdown(wait=True, cancel_futures=True)


def _reachable(address: str) -> None:
    """Refuse an unreachable scheduler before ``Client`` starts: a failed Client
    spends its timeout twice and prints a traceback from its destructor."""
    import socket

    from distributed.comm import get_address_host_port, parse_address

    try:
        if parse_address(address)[0] not in ("tcp", "tls"):
            return  # in-process or other transports: nothing to probe
        host, port = get_address_host_port(address)
        socket.create_connection((host, port), timeout=10).close()
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc})") from None


def _dask(items: list, address: str) -> Iterator[dict]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    _reachable(address)
    with Client(address, set_as_default=False) as client:
        futures = [client.submit(run_item, i, key=f"journeysim-item-{i['id']}", pure=False) for i in items]
        for future in dask_completed(futures, loop=client.loop):
            yield future.result()


def _table(rows: list[dict]) -> tuple[str, str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return buf.getvalue(), lines


def run_plan(
    plan: Plan | str | os.PathLike,
    *,
    outdir: str | os.PathLike | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> RunResult:
    """Run every item of a plan; write item files, the results tables, and return the rows.

    Parameters
    ----------
    plan : Plan or path of a plan file
    outdir : str or os.PathLike, optional
        Results folder (default ``<plan folder>/<plan name>.results``).
    workers : int
        Local worker processes (1 runs in this process); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask scheduler to run the items on.
    resume : bool
        Keep items already finished in ``outdir`` and run only the rest.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    RunResult
        The results rows (``to_frame()``), ranked by ``ranking()``.

    Examples
    --------
    >>> import tempfile
    >>> plan = load_plan("scenarios/plans/next-quarter.yaml")
    >>> first_two = Plan(plan.title, plan.source, plan.items[:2])
    >>> out = tempfile.mkdtemp()
    >>> r = run_plan(first_two, outdir=out)
    >>> r.ran, sorted(os.listdir(out))
    (2, ['items', 'results.csv', 'results.jsonl'])
    >>> run_plan(first_two, outdir=out, resume=True).ran
    0
    """
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    out = Path(outdir) if outdir is not None else Path(plan.source).parent / f"{Path(plan.source).stem}.results"
    items_dir = out / "items"
    try:
        items_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot create the results folder ({exc.strerror})") from None
    rows: dict[str, dict] = {}
    if resume:
        for item in plan.items:
            row = _done(items_dir / f"{item['id']}.json", item)
            if row is not None:
                rows[item["id"]] = row
    pending = [i for i in plan.items if i["id"] not in rows]
    resumed = len(rows)
    backend = f"Dask scheduler {scheduler}" if scheduler else f"{workers} local process{'es' if workers > 1 else ''}"
    results = _dask(pending, scheduler) if scheduler and pending else _local(pending, workers)
    with _progress(len(plan.items), resumed, progress) as advance:
        for row in results:
            write_atomic(items_dir / f"{row['id']}.json", json.dumps(row, ensure_ascii=False) + "\n")
            rows[row["id"]] = row
            advance()
    ordered = [rows[i["id"]] for i in plan.items]
    table, lines = _table(ordered)
    write_atomic(out / "results.csv", table)
    write_atomic(out / "results.jsonl", lines)
    return RunResult(plan.title, str(out), tuple(ordered), len(pending), resumed, backend)


@contextlib.contextmanager
def local_cluster(n_workers: int = 2, processes: bool = True) -> Iterator[str]:
    """A Dask ``LocalCluster`` for numpy-heavy items; yields its scheduler address.

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` for its workers (and in this
    process's environment), which makes numpy-heavy tasks several times slower; it
    is unset here and the caller's environment is restored afterwards.
    """
    import dask
    from distributed import LocalCluster

    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}), \
                LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                             dashboard_address=None) as cluster:
            yield cluster.scheduler_address
    finally:
        if before is None:
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        else:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = before
