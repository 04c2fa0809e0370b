"""Predictions running in the background, so that the page can show their progress.

Each job runs in its own daemon thread (a prediction cannot be interrupted half way,
and Ctrl-C must not wait for one); one runs at a time, the others queue, and no more
than :data:`WAITING` are queued or running at once: a script starting predictions in a
loop is told to wait instead of piling up threads that run for hours.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from journeysim.errors import JourneySimError

__all__ = ["Job", "Jobs", "Busy", "KEEP", "WAITING"]

#: Finished jobs kept for the page to read (and to design a test from); older ones are forgotten.
KEEP = 50
#: Jobs queued or running at once; more are refused until one finishes.
WAITING = 8


class Busy(JourneySimError):
    """Too many jobs are queued or running (the HTTP API answers 429)."""


@dataclass
class Job:
    """One background run: its state, progress (0 to 1), result or error messages."""

    id: str
    state: str = "queued"
    progress: float = 0.0
    result: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    #: What the work returned besides its JSON (the prediction itself, for a test design).
    value: Any = None
    #: What the work raised, for a caller that waits on the job (to answer as if it had run the work itself).
    exception: BaseException | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.id, "state": self.state, "progress": round(self.progress, 4)}
        if self.result is not None:
            out.update(self.result)
        if self.errors:
            out["errors"] = self.errors
        return out


class Jobs:
    """Start work in the background and look it up by id.

    Examples
    --------
    >>> jobs = Jobs()
    >>> job = jobs.start(lambda progress: ({"answer": 42}, None))
    >>> jobs.wait(job.id).to_dict()["answer"]
    42
    >>> import threading
    >>> hold = threading.Event()
    >>> busy = [jobs.start(lambda progress: (hold.wait(), None)) for _ in range(WAITING)]
    >>> jobs.start(lambda progress: ({}, None))
    Traceback (most recent call last):
    ...
    journeysim.studio.jobs.Busy: 8 predictions are already queued or running: wait for one to finish
    >>> hold.set(); [jobs.wait(j.id).state for j in busy] == ["done"] * WAITING
    True
    """

    def __init__(self, at_once: int = 1):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(at_once)
        self._done: dict[str, threading.Event] = {}

    def start(self, work: Callable[[Callable[[float], None]], tuple[dict[str, Any], Any]]) -> Job:
        """Run ``work(progress) -> (result dict, value)`` in the background; return its job."""
        job = Job(secrets.token_hex(8))
        with self._lock:
            if sum(j.state in ("queued", "running") for j in self._jobs.values()) >= WAITING:
                raise Busy(f"{WAITING} predictions are already queued or running: wait for one to finish")
            self._jobs[job.id] = job
            self._done[job.id] = threading.Event()
            for old in [k for k, j in self._jobs.items() if j.state in ("done", "failed")][:-KEEP]:
                del self._jobs[old], self._done[old]
        threading.Thread(target=self._run, args=(job, work), daemon=True, name=f"studio-job-{job.id}").start()
        return job

    def _run(self, job: Job, work) -> None:
        def progress(share: float) -> None:
            job.progress = min(max(float(share), 0.0), 1.0)

        with self._slots:
            job.state = "running"
            try:
                job.result, job.value = work(progress)
                job.progress, job.state = 1.0, "done"
            except JourneySimError as exc:
                job.errors, job.state, job.exception = list(exc.messages), "failed", exc
            except Exception as exc:  # a bug: the page must still stop waiting, and say so
                job.errors, job.state = [f"internal error: {type(exc).__name__}: {exc}"], "failed"
                job.exception = exc
            finally:
                self._done[job.id].set()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has finished (for scripts and tests)."""
        self._done[job_id].wait(timeout)
        return self._jobs[job_id]
