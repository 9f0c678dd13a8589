"""A process pool for grading that survives workers that die.

A worker can die under a submission: the operating system kills it when memory runs out, or
something crashes it. A plain ProcessPoolExecutor then fails every job it still holds
(BrokenProcessPool), and its leftover workers can keep `grade` from exiting. Here:
- at most `workers` jobs are in flight, so a dead worker takes at most that many with it;
- those jobs are retried, each alone in a fresh one-process pool, so the one that kills its worker
  again is known: it fails with a reason (WorkerDied) and is not retried again; the others get
  their results as if nothing happened;
- `close()` kills every worker process it started, so `grade` always exits.
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable


class WorkerDied(Exception):
    """The worker process died while running this job, also when the job ran alone."""


class Handle:
    def __init__(self, job: dict):
        self.job = job
        self.result = None
        self.error: BaseException | None = None
        self.alone = False  # retried alone after a worker died under it


class SurvivingPool:
    def __init__(self, workers: int, fn: Callable[[dict], dict]):
        self.workers, self.fn = max(1, workers), fn
        self.ctx = multiprocessing.get_context("spawn")
        self.pools: list[ProcessPoolExecutor] = []
        self.pool = self._new_pool(self.workers)
        self.queue: deque[Handle] = deque()

    def _new_pool(self, n: int) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(n, mp_context=self.ctx)
        self.pools.append(pool)
        return pool

    def submit(self, job: dict) -> Handle:
        h = Handle(job)
        self.queue.append(h)
        return h

    def completed(self, handles) -> "Iterator[Handle]":
        """Yield the handles as their jobs end (with a result or an error)."""
        wanted = set(map(id, handles))
        flight: dict = {}  # future -> handle
        suspects: deque[Handle] = deque()
        while self.queue or flight or suspects:
            while self.queue and len(flight) < self.workers:
                h = self.queue.popleft()
                try:
                    flight[self.pool.submit(self.fn, h.job)] = h
                except BrokenProcessPool:
                    self.queue.appendleft(h)
                    self._replace()
            if suspects and not flight:
                h = suspects.popleft()
                self._run_alone(h)
                if id(h) in wanted:
                    yield h
                continue
            if not flight:
                continue
            done, _ = wait(list(flight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                h = flight.pop(fut)
                try:
                    h.result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    suspects.append(h)
                    continue
                except BaseException as exc:  # noqa: BLE001 - the job's own error goes to its submission
                    h.error = exc
                if id(h) in wanted:
                    yield h
            if broken:
                # every job still in flight went down with the pool: all are suspects
                for fut, h in list(flight.items()):
                    suspects.append(h)
                flight.clear()
                self._replace()

    def _replace(self) -> None:
        self._kill(self.pool)
        self.pool = self._new_pool(self.workers)

    def _run_alone(self, h: Handle) -> None:
        h.alone = True
        pool = self._new_pool(1)
        try:
            h.result = pool.submit(self.fn, h.job).result()
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

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> None:
        procs = list((getattr(pool, "_processes", None) or {}).values())
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
        for pool in self.pools:
            self._kill(pool)
        self.pools.clear()
