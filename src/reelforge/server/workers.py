"""Job workers embedded in ``reelforge serve --workers N``: processes (the default: a task's CPU
work never slows the API) or threads, each running ``reelforge.compute.worker.Worker``, stopped
with the server."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.studio import Studio


def _process_main(home: str) -> None:
    from reelforge.compute.worker import Worker
    from reelforge.studio import Studio

    stop = threading.Event()
    worker: Worker | None = None

    def _term(*_: object) -> None:
        stop.set()
        if worker is not None:
            worker.interrupt()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us with SIGTERM, once
    studio = Studio.open(home)
    try:
        worker = Worker(studio)
        worker.run(stop=stop)
    finally:
        studio.close()


class EmbeddedWorkers:
    def __init__(self, studio: Studio, n: int, mode: str = "process") -> None:
        self.studio, self.n, self.mode = studio, n, mode
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._procs: list[Any] = []
        self._workers: list[Any] = []

    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads) + sum(p.is_alive() for p in self._procs)

    def start(self) -> None:
        if self.n <= 0:
            return
        if self.mode == "thread":
            from reelforge.compute.worker import Worker

            for i in range(self.n):
                worker = Worker(self.studio)
                self._workers.append(worker)
                t = threading.Thread(target=worker.run, kwargs={"stop": self._stop}, daemon=True,
                                     name=f"reelforge-worker-{i}")
                t.start()
                self._threads.append(t)
            return
        ctx = multiprocessing.get_context("spawn")
        home = str(Path(self.studio.home))
        for i in range(self.n):
            p = ctx.Process(target=_process_main, args=(home,), name=f"reelforge-worker-{i}", daemon=False)
            p.start()
            self._procs.append(p)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every worker to stop after its current job's attempt (a job cut short is re-queued
        by its lease, as after any lost worker)."""
        self._stop.set()
        for w in self._workers:
            w.interrupt()
        for p in self._procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker loop stops cleanly
        for t in self._threads:
            t.join(timeout)
        for p in self._procs:
            p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join(5)
