"""Peak memory of a process and everything it started (the report's kernels, figure renderers, Chromium).

The figure is the proportional set size (PSS: a page shared by several processes counted once in the total, not
once per process as resident sizes would). Reading a process's PSS makes the kernel walk its page tables
(tens of milliseconds for a kernel or a browser), so :class:`PeakMemory` reads the cheap resident sizes four times
a second and the PSS of every process when their resident total reaches a new high (at least 2 % above the
last one read, at most twice a second) and every ten seconds besides, and once at the end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

__all__ = ["PeakMemory", "process_tree"]

log = logging.getLogger(__name__)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from ``/proc/<pid>/task/<tid>/children`` (psutil's scan of every process
    on the machine where that file is missing)."""
    out, i = [pid], 0
    if not Path(f"/proc/{pid}/task").is_dir():
        import psutil

        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children", encoding="ascii") as fh:
                    out.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class PeakMemory:
    """Samples the memory (PSS) of this process and all its children while the ``with`` block runs.

    ``mb`` is the highest total read, ``breakdown()`` the largest processes at that moment, ``cpu_seconds`` what
    the sampling itself cost (its thread's CPU time)."""

    def __init__(
        self, interval: float = 0.25, step: float = 1.02, min_gap: float = 0.5, max_gap: float = 10.0
    ):
        self.peak = 0
        self.at_peak: list[tuple[int, str]] = []
        self.interval, self.step, self.min_gap, self.max_gap = interval, step, min_gap, max_gap
        self.cpu_seconds = 0.0
        self.readings = 0
        self._rss_read = 0  # resident total when PSS was last read
        self._last = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="peak-memory")

    def _read_pss(self, pids: list[int]) -> None:
        import psutil

        total, parts = 0, []
        for pid in pids:
            try:
                p = psutil.Process(pid)
                pss = p.memory_full_info().pss
                parts.append((pss, p.name()))
            except psutil.Error:
                continue
            total += pss
        self.readings += 1
        if total > self.peak:
            self.peak = total
            self.at_peak = sorted(parts, reverse=True)

    def _sample(self, force: bool = False) -> None:
        pids = process_tree(os.getpid())
        rss = sum(_rss(p) for p in pids)
        now = time.monotonic()
        if (
            force
            or now - self._last >= self.max_gap
            or (rss > self._rss_read * self.step and now - self._last >= self.min_gap)
        ):
            self._rss_read = max(rss, self._rss_read)
            self._last = now
            self._read_pss(pids)

    def _loop(self) -> None:
        t0 = time.thread_time()
        while not self._stop.wait(self.interval):
            self._sample()
        self.cpu_seconds += time.thread_time() - t0

    def __enter__(self) -> PeakMemory:
        self._sample(force=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(force=True)

    @property
    def mb(self) -> int:
        return round(self.peak / 2**20)

    def breakdown(self) -> str:
        return ", ".join(f"{name} {rss / 2**20:.0f}" for rss, name in self.at_peak[:6])
