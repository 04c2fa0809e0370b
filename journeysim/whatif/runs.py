"""Running a plan's items on local processes or a Dask cluster, resumably.

Each item's random stream is ``numpy.random.default_rng(seed)`` (a
``SeedSequence`` of the item's seed), so an item gives the same numbers in-process,
in a worker process or on a Dask worker, and an unswept item matches
``journeysim predict FILE --seed S``. Each finished item is written atomically to
``OUTDIR/items/<id>.json`` by the coordinating process, with its key and the hash of
every file it read (see :mod:`journeysim.whatif.plan`); ``resume`` reuses an item
only when its saved key is the one the plan's files give now, and reruns items whose
inputs changed and item files that are unreadable or cut short. The tables
``results.csv`` and ``results.jsonl`` (one row per item, plan order) are written when
every item is done. One run at a time writes to a folder (a lock file,
``OUTDIR/.journeysim-run.lock``).
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

from journeysim._files import check_folder_writable, recording_reads, write_atomic
from journeysim._result import Result
from journeysim._safe import csv_cell
from journeysim._text import format_table, pct, pct_interval, percent_level, rate, wrap
from journeysim.errors import OutputError, UsageError
from journeysim.whatif.plan import RESULTS_VERSION, Plan, item_hypothesis, item_key, load_plan
from journeysim.whatif.prediction import change_format, predict

__all__ = ["RunResult", "run_item", "run_plan", "default_outdir", "local_cluster", "COLUMNS", "ITEM_FORMAT"]

#: The ``format`` of an item file.
ITEM_FORMAT = "journeysim-run-item/1"
#: How many changed files a summary names.
_NAMED = 3

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
    #: Items rerun because a file they read (or :data:`~journeysim.whatif.plan.RESULTS_VERSION`) changed.
    rerun_changed: int = 0
    #: The changed files, each once, in plan order.
    changed_files: tuple[str, ...] = ()
    #: Items rerun because their file was unreadable, cut short or of another format.
    rerun_unreadable: int = 0
    #: Items whose files changed while they ran (saved with what they read: the next ``--resume`` reruns them).
    changed_while_running: int = 0

    def ranking(self) -> list[Mapping[str, Any]]:
        """Rows by predicted relative lift, largest first: comparable across metrics (ties keep plan order).

        A row whose baseline is 0 (no relative lift) ranks after the others, by absolute lift.
        """
        return sorted(self.rows, key=lambda r: (r["lift_rel"] is None, -(r["lift_rel"] if r["lift_rel"] is not None
                                                                        else r["lift_abs"])))

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "outdir": self.outdir, "items": len(self.rows), "ran": self.ran,
                "resumed": self.resumed, "rerun_changed": self.rerun_changed, "changed_files": list(self.changed_files),
                "rerun_unreadable": self.rerun_unreadable, "changed_while_running": self.changed_while_running,
                "backend": self.backend, "ranking": [dict(r) for r in self.ranking()]}

    def state(self) -> str:
        """What was run now and why, in a line or two.

        Examples
        --------
        >>> r = RunResult("p", "out", (), ran=3, resumed=13, backend="1 local process", rerun_changed=2,
        ...               changed_files=("h/a.yaml", "m.yaml", "h/b.yaml", "c.yaml"), rerun_unreadable=1)
        >>> print(r.state())
        16 items (3 run now, 13 resumed; 2 rerun because an input changed: h/a.yaml, m.yaml, h/b.yaml and 1 more; 1 item file unreadable, rerun)
        """
        why = []
        if self.rerun_changed:
            named = ", ".join(self.changed_files[:_NAMED])
            more = len(self.changed_files) - _NAMED
            named += f" and {more} more" if more > 0 else ""
            why.append(f"{self.rerun_changed} rerun because an input changed" + (f": {named}" if named else ""))
        if self.rerun_unreadable:
            why.append(f"{self.rerun_unreadable} item file{'s' if self.rerun_unreadable > 1 else ''} unreadable, rerun")
        line = (f"{self.ran + self.resumed} items ({self.ran} run now, {self.resumed} resumed"
                + "".join(f"; {w}" for w in why) + ")")
        if self.changed_while_running:
            line += (f"\nnote: {self.changed_while_running} item(s) read files that changed during the run; "
                     "`--resume` will run them again")
        return line

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
        level = percent_level(self.rows[0]["interval_level"]) if self.rows else ""
        table = format_table(f"{self.plan}: ranking by predicted relative lift",
                             ["hypothesis (metric)", *varies, "lift", f"{level} interval", "absolute",
                              "P(lift > 0)"], rows)
        same = ", ".join(f"{key} {ranking[0][key]}" for key in ("engine", "seed") if key not in varies and ranking)
        state, _, note = self.state().partition("\n")
        return (f"{table}\n" + wrap(f"{state} on {self.backend}" + (f"; {same}" if same else "") + f"; results in "
                                     f"{self.outdir}/results.csv and results.jsonl")
                + (f"\n{wrap(note)}" if note else ""))

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
    hyp = item_hypothesis(item["path"], item["sweep"], within=item["within"])
    p = predict(hyp, engine=item["engine"], draws=item["draws"], level=item["level"],
                rng=np.random.default_rng(item["seed"]), size=item["size"] if item["engine"] != "exact" else None,
                seed=item["seed"], max_transitions=item.get("max_transitions") if item["engine"] != "exact" else None)
    return {
        "id": item["id"], "hypothesis": p.hypothesis, "file": item["file"],
        "sweep": json.dumps(item["sweep"], ensure_ascii=False, sort_keys=True), "engine": p.engine,
        "seed": item["seed"], "draws": p.draws, "metric": p.metric, "baseline": p.baseline, "variant": p.variant,
        "lift_abs": p.lift_abs, "lift_abs_low": p.lift_abs_interval[0], "lift_abs_high": p.lift_abs_interval[1],
        "lift_rel": p.lift_rel, "lift_rel_low": p.lift_rel_interval[0], "lift_rel_high": p.lift_rel_interval[1],
        "prob_positive": p.prob_positive, "interval_level": p.interval_level, "method": p.method,
    }


def _run_recorded(item: Mapping[str, Any]) -> dict[str, Any]:
    """Run an item and return its item file's content: the row, the key and hashes of what it read."""
    with recording_reads() as reads:
        row = run_item(item)
    return {"format": ITEM_FORMAT, "id": item["id"], "key": item_key(item["entry"], reads.values()),
            "inputs": [[path, digest] for path, digest in reads.items()], "version": RESULTS_VERSION, "row": row}


def _saved(path: Path, item: Mapping[str, Any]) -> tuple[str, dict | None]:
    """What the item file holds: ``("missing" | "unreadable" | "changed" | "current", record)``.

    A file is read whole and checked whole: one cut short, not JSON, of another format or another item is
    unreadable and never half-used.
    """
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return "missing", None
    except (OSError, ValueError):
        return "unreadable", None
    if (not isinstance(record, dict) or record.get("format") != ITEM_FORMAT or record.get("id") != item["id"]
            or not isinstance(record.get("key"), str) or not isinstance(record.get("inputs"), list)
            or not isinstance(record.get("row"), dict) or set(record["row"]) != set(COLUMNS)
            or record["row"]["id"] != item["id"]):
        return "unreadable", None
    return ("current" if record["key"] == item["key"] else "changed"), record


def _changed_files(record: Mapping[str, Any], item: Mapping[str, Any]) -> list[str]:
    """The files of ``item`` whose content differs from what the saved ``record`` read (paired in reading order)."""
    before = [digest for _, digest in (x for x in record["inputs"] if isinstance(x, list) and len(x) == 2)]
    changed = [path for k, (path, digest) in enumerate(item["inputs"].items())
               if k >= len(before) or before[k] != digest]
    if not changed and record.get("version") != RESULTS_VERSION:
        changed = [f"journeysim's results version ({record.get('version')} -> {RESULTS_VERSION})"]
    return changed


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
        yield from (_run_recorded(i) for i in items)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(items)))
    try:
        for future in as_completed([pool.submit(_run_recorded, i) for i in items]):
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
        # The content key in the task's name: a scheduler that still holds an older result of the item must
        # not hand it back for changed inputs.
        futures = [client.submit(_run_recorded, i, key=f"journeysim-item-{i['id']}-{i['key'][7:23]}", pure=False)
                   for i in items]
        for future in dask_completed(futures, loop=client.loop):
            yield future.result()


def _table(rows: list[dict]) -> tuple[str, str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)   # titles that spreadsheets would run
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return buf.getvalue(), lines


def default_outdir(plan_path: str | os.PathLike) -> Path:
    """Where a plan's results go without ``outdir``: ``<plan folder>/<plan name>.results``.

    Examples
    --------
    >>> str(default_outdir("scenarios/plans/next-quarter.yaml"))
    'scenarios/plans/next-quarter.results'
    """
    return Path(plan_path).parent / f"{Path(plan_path).stem}.results"


@contextlib.contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    """One run at a time in a results folder; the lock dies with its process, even a killed one."""
    from filelock import FileLock, Timeout

    lock = FileLock(out / ".journeysim-run.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(f"{out}: another journeysim run is writing its results here; wait for it to finish or "
                          "choose another results folder", "Locked") from None
    try:
        yield
    finally:
        lock.release()


def _remove_temporaries(out: Path) -> None:
    """Temporary files of writes a killed run left behind (under the folder's lock: none is in use)."""
    for folder in (out, out / "items"):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


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

    An output folder that cannot be created or written is refused before anything runs.

    Parameters
    ----------
    plan : Plan or path of a plan file
    outdir : str or os.PathLike, optional
        Results folder (default :func:`default_outdir`: ``<plan folder>/<plan name>.results``).
    workers : int
        Local worker processes (1 runs in this process); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask scheduler to run the items on.
    resume : bool
        Keep items already finished in ``outdir`` whose inputs are unchanged; run the rest.
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
    (2, ['.journeysim-run.lock', 'items', 'results.csv', 'results.jsonl'])
    >>> run_plan(first_two, outdir=out, resume=True).ran
    0
    """
    source = plan.source if isinstance(plan, Plan) else str(plan)
    out = Path(outdir) if outdir is not None else default_outdir(source)
    check_folder_writable(out)                 # before the plan's files are read, let alone its items run
    plan = plan if isinstance(plan, Plan) else load_plan(plan)
    items_dir = out / "items"
    try:
        items_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the results folder ({exc.strerror})", exc.strerror) from None
    with _folder_lock(out):
        _remove_temporaries(out)
        return _run(plan, out, workers, scheduler, resume, progress)


def _run(plan: Plan, out: Path, workers: int, scheduler: str | None, resume: bool, progress: bool) -> RunResult:
    items_dir = out / "items"
    rows: dict[str, dict] = {}
    changed, unreadable, changed_files = 0, 0, {}
    if resume:
        for item in plan.items:
            state, record = _saved(items_dir / f"{item['id']}.json", item)
            if state == "current":
                rows[item["id"]] = record["row"]
            elif state == "changed":
                changed += 1
                changed_files.update(dict.fromkeys(_changed_files(record, item)))
            elif state == "unreadable":
                unreadable += 1
    pending = [i for i in plan.items if i["id"] not in rows]
    resumed = len(rows)
    planned = {i["id"]: i["key"] for i in pending}
    drifted = 0
    backend = f"Dask scheduler {scheduler}" if scheduler else f"{workers} local process{'es' if workers > 1 else ''}"
    results = _dask(pending, scheduler) if scheduler and pending else _local(pending, workers)
    with _progress(len(plan.items), resumed, progress) as advance:
        for record in results:
            write_atomic(items_dir / f"{record['id']}.json", json.dumps(record, ensure_ascii=False) + "\n")
            rows[record["id"]] = record["row"]
            drifted += record["key"] != planned[record["id"]]
            advance()
    ordered = [rows[i["id"]] for i in plan.items]
    table, lines = _table(ordered)
    write_atomic(out / "results.csv", table)
    write_atomic(out / "results.jsonl", lines)
    return RunResult(plan.title, str(out), tuple(ordered), len(pending), resumed, backend, changed,
                     tuple(changed_files), unreadable, drifted)


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
