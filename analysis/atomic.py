"""Write outputs aside, then move them into place whole.

Published outputs (``data/derived/current``, ``reports``) are symlinks to complete build folders. A build writes
a new folder named ``<id>.partial``, renames it to ``<id>`` when complete, and swaps the symlink with one atomic
``os.replace``. A build killed at any moment leaves the previous symlink, and so the previous outputs, intact;
the next build clears leftover ``.partial`` folders. A lock file serialises builds in one checkout.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["exclusive", "new_build_dir", "publish", "prune", "BuildLockedError"]


_HELD: set[str] = set()  # lock files this process holds


class BuildLockedError(RuntimeError):
    """Another build holds the lock and did not finish in time."""


@contextmanager
def exclusive(lock_path: Path, timeout_s: float = 3600.0) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (waits for another build in the same checkout to finish).

    Re-entrant within one process: a report holds the build lock for its whole run and builds the data inside
    it, so no other build can publish (or prune) data/derived while the report's notebooks read it.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    key = str(lock_path.resolve())
    if key in _HELD:
        yield
        return
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    print(f"waiting for another build to finish (lock {lock_path}) ...", flush=True)
                    waited = True
                if time.monotonic() > deadline:
                    raise BuildLockedError(f"{lock_path} is held by another build") from None
                time.sleep(0.2)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_build_dir(builds: Path) -> Path:
    """A fresh ``<timestamp>-<pid>.partial`` folder under ``builds``, after clearing stale partial folders.

    Call only while holding the lock: any ``.partial`` folder then belongs to a build that died.
    """
    builds.mkdir(parents=True, exist_ok=True)
    for stale in builds.glob("*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    path = builds / f"{name}.partial"
    path.mkdir()
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(partial: Path, link: Path) -> Path:
    """Rename ``partial`` to its final name and point ``link`` at it atomically. Returns the final folder."""
    final = partial.with_name(partial.name.removesuffix(".partial"))
    os.replace(partial, final)
    _fsync_dir(final.parent)
    if link.exists() and not link.is_symlink():
        raise RuntimeError(
            f"{link} is a real folder, not the symlink the build manages; move it away and build again"
        )
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    target = os.path.relpath(final, link.parent)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(link.parent)
    return final


def prune(builds: Path, link: Path, keep: int = 2) -> None:
    """Delete old complete builds, keeping the newest ``keep`` and whatever ``link`` points at."""
    if not builds.is_dir():
        return
    current = link.resolve() if link.is_symlink() else None
    done = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.endswith(".partial")),
                  key=lambda p: p.name)
    for old in done[:-keep] if keep else done:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
