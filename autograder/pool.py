"""A process pool for grading that survives workers that die.

A worker can die under a submission: the operating system kills it when memory runs out, or
something crashes it. A plain ProcessPoolExecutor then fails every job it still holds
(BrokenProcessPool), and its leftover workers can keep `grade` from exiting. Here:
- at most `workers` jobs are in flight, so a dead worker takes at most that many with it;
- a job starts when it is submitted, if a worker is free (the caller prepares the next
  submissions meanwhile; jobs that wait start as others end, in `submit` or `completed`);
- those jobs are retried, each alone in a fresh one-process pool, so the one that kills its worker
  again is known: it fails with a reason (WorkerDied) and is not retried again; the others get
  their results as if nothing happened;
- `close()` kills every worker process it started, so `grade` always exits;
- the workers make their temporary files (a checker's folder, the graded copy of the library)
  in one folder of the pool's, which `close()` removes: a killed worker runs no exit handler.
"""
from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator


class WorkerDied(Exception):
    """The worker process died while running this job, also when the job ran alone."""


class Handle:
    def __init__(self, job: dict):
        self.job = job
        self.result = None
        self.error: BaseException | None = None
        self.alone = False  # retried alone after a worker died under it


def _use_scratch(path: str) -> None:
    """A worker's initializer: its temporary files go into the pool's folder."""
    tempfile.tempdir = path


class SurvivingPool:
    def __init__(self, workers: int, fn: Callable[[dict], dict]):
        self.workers, self.fn = max(1, workers), fn
        self.ctx = multiprocessing.get_context("spawn")
        self.scratch = tempfile.mkdtemp(prefix="grade-workers-")
        self.pools: list[ProcessPoolExecutor] = []
        self.seen: dict = {}  # pid -> every worker process any pool started, so close() leaves none
        self.pool = self._new_pool(self.workers)
        self.queue: deque[Handle] = deque()     # submitted, not started
        self.flight: dict = {}                  # future -> handle, at most `workers`
        self.done: deque[Handle] = deque()      # ended, not yet yielded by completed()
        self.suspects: deque[Handle] = deque()  # in flight when a worker died: each retried alone

    def _new_pool(self, n: int) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(n, mp_context=self.ctx, initializer=_use_scratch, initargs=(self.scratch,))
        self.pools.append(pool)
        return pool

    def submit(self, job: dict) -> Handle:
        h = Handle(job)
        self.queue.append(h)
        self._settle()  # without waiting: take in what ended, start what can start
        self._start()
        return h

    def _note(self, pool: ProcessPoolExecutor) -> None:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            self.seen.setdefault(proc.pid, proc)

    def _start(self) -> None:
        while self.queue and len(self.flight) < self.workers:
            h = self.queue.popleft()
            try:
                self.flight[self.pool.submit(self.fn, h.job)] = h
                self._note(self.pool)
            except BrokenProcessPool:
                self.queue.appendleft(h)
                self._replace()

    def _settle(self) -> None:
        """Move the jobs that have ended from flight to done (or, if their worker died, to suspects)."""
        broken = False
        for fut in [f for f in self.flight if f.done()]:
            h = self.flight.pop(fut)
            try:
                h.result = fut.result()
            except BrokenProcessPool:
                broken = True
                self.suspects.append(h)
                continue
            except BaseException as exc:  # noqa: BLE001 - the job's own error goes to its submission
                h.error = exc
            self.done.append(h)
        if broken:
            # every job still in flight went down with the pool: all are suspects
            self.suspects.extend(self.flight.values())
            self.flight.clear()
            self._replace()

    def completed(self, handles) -> Iterator[Handle]:
        """Yield the handles as their jobs end (with a result or an error)."""
        wanted = set(map(id, handles))
        while self.queue or self.flight or self.suspects or self.done:
            while self.done:
                h = self.done.popleft()
                if id(h) in wanted:
                    yield h
            self._start()
            if self.suspects and not self.flight:
                h = self.suspects.popleft()
                self._run_alone(h)
                if id(h) in wanted:
                    yield h
                continue
            if self.flight:
                wait(list(self.flight), return_when=FIRST_COMPLETED)
                self._settle()

    def _replace(self) -> None:
        self._kill(self.pool)
        self.pool = self._new_pool(self.workers)

    def _run_alone(self, h: Handle) -> None:
        h.alone = True
        pool = self._new_pool(1)
        try:
            fut = pool.submit(self.fn, h.job)
            self._note(pool)
            h.result = fut.result()
        except BrokenProcessPool:
            h.error = WorkerDied(
                "the grading worker died while running this submission, also when it ran alone "
                "(the operating system killed it, most likely for memory, or it crashed); not retried")
        except BaseException as exc:  # noqa: BLE001
            h.error = exc
        finally:
            self._kill(pool)

    @staticmethod
    def result(h: Handle) -> dict:
        if h.error is not None:
            raise h.error
        return h.result

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        self._note(pool)
        for proc in procs:
            try:
                if proc.is_alive():
                    proc.kill()
            except (OSError, ValueError, AttributeError):
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            try:
                proc.join(5)
            except (OSError, ValueError, AttributeError, AssertionError):
                pass

    def close(self) -> None:
        self.queue.clear()
        self.flight.clear()
        for pool in self.pools:
            self._kill(pool)
        self.pools.clear()
        # Every worker any pool started, also one a pool replaced in the meantime: none outlives close().
        for proc in self.seen.values():
            try:
                if proc.is_alive():
                    proc.kill()
                    proc.join(60)
            except (OSError, ValueError, AttributeError, AssertionError):
                pass
        self.seen.clear()
        shutil.rmtree(self.scratch, ignore_errors=True)
