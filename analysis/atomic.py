"""Write outputs aside, then move them into place whole.

Published outputs (``data/derived/current``, ``reports``) are symlinks to complete build folders. A build writes
a new folder named ``<id>.partial``, renames it to ``<id>`` when complete, and swaps the symlink with one atomic
``os.replace``. A build killed at any moment leaves the previous symlink, and so the previous outputs, intact;
the next run clears leftover ``*.partial*`` scratch (:func:`prune_scratch`, under the lock, never a folder of a
live process). A lock file serialises builds in one checkout.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "exclusive",
    "pid_alive",
    "new_build_dir",
    "publish",
    "prune",
    "prune_scratch",
    "prune_stale_links",
    "BuildLockedError",
    "NotALinkError",
]


log = logging.getLogger(__name__)
_HELD: set[str] = set()  # lock files this process holds


class BuildLockedError(RuntimeError):
    """Another build holds the lock and did not finish in time."""


class NotALinkError(RuntimeError):
    """A published path (``data/derived/current``, ``reports``) is a real folder or file, not our symlink."""


_PID = re.compile(r"-(\d+)-\d{6}(?:\.|$)")  # <id>-<pid>-<n>.partial (build folders)
_PARTIAL_PID = re.compile(r"\.partial-(\d+)")  # <name>.partial-<pid>[-<n>] (page cache scratch)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (the writer of a scratch file or folder); another user's counts as alive."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_scratch(*folders: Path) -> list[Path]:
    """Remove ``*.partial*`` scratch left by killed runs in ``folders`` (and one level below). Call holding the
    lock; a scratch folder whose name carries the id of a live process (this one included) is kept."""
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        candidates = list(folder.glob("*.partial*")) + list(folder.glob("*/*.partial*"))
        for p in candidates:
            m = _PID.search(p.name) or _PARTIAL_PID.search(p.name)
            if m and pid_alive(int(m.group(1))):
                continue
            if p.is_symlink() or p.is_file():
                p.unlink(missing_ok=True)
            else:
                shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def prune_stale_links(*folders: Path) -> list[Path]:
    """Remove half-made links of a killed :func:`publish` (``.<link>.<pid>.tmp`` symlinks of dead processes)."""
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in folder.glob(".*.tmp"):
            m = re.match(r"^\..+\.(\d+)\.tmp$", p.name)
            if m and p.is_symlink() and not pid_alive(int(m.group(1))):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


@contextmanager
def exclusive(lock_path: Path, timeout_s: float = 3600.0, what: str = "build") -> Iterator[None]:
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
                    log.warning("waiting for another %s to finish (lock %s) ...", what, lock_path)
                    waited = True
                if time.monotonic() > deadline:
                    raise BuildLockedError(f"{lock_path} is held by another {what}") from None
                time.sleep(0.2)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_build_dir(builds: Path, build_id: str | None = None) -> Path:
    """A fresh ``<id>-<pid>-<n>.partial`` folder under ``builds``, after clearing stale partial folders.

    Call only while holding the lock: a ``.partial`` folder of a dead process then belongs to a build that died.
    ``build_id`` (e.g. derived from the inputs' fingerprint) names the folder; a timestamp otherwise.
    """
    builds.mkdir(parents=True, exist_ok=True)
    prune_scratch(builds)
    name = build_id or time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = builds / f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}.partial"
    path.mkdir()
    return path


def _final_name(partial: Path) -> Path:
    """``<id>`` for ``<id>-<pid>-<n>.partial``; ``<id>.2``, ``<id>.3`` ... when that name is taken."""
    base = (
        _PID.sub("", partial.name.removesuffix(".partial"))
        if _PID.search(partial.name)
        else partial.name.removesuffix(".partial")
    )
    final = partial.with_name(base)
    n = 1
    while final.exists() or final.is_symlink():
        n += 1
        final = partial.with_name(f"{base}.{n}")
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(partial: Path, link: Path) -> Path:
    """Rename ``partial`` to its final name and point ``link`` at it atomically. Returns the final folder."""
    if (link.exists() or link.is_symlink()) and not link.is_symlink():
        raise NotALinkError(
            f"{link}: expected the symlink the build manages, got a real {'folder' if link.is_dir() else 'file'}; "
            "nothing was published. Move it away (e.g. mv it to a backup name) and build again"
        )
    final = _final_name(partial)
    os.replace(partial, final)
    _fsync_dir(final.parent)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    target = os.path.relpath(final, link.parent)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(link.parent)
    return final


def replace_dir(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` in place of ``out`` (rename, old copy removed after): a reader sees the
    old folder or the new one, never half of one. Used for outputs that are a folder, not a linked build."""
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)


def prune(builds: Path, link: Path, keep: int = 2) -> None:
    """Delete old complete builds, keeping the newest ``keep`` and whatever ``link`` points at."""
    if not builds.is_dir():
        return
    current = link.resolve() if link.is_symlink() else None
    done = sorted(
        (p for p in builds.iterdir() if p.is_dir() and not p.is_symlink() and ".partial" not in p.name),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
    )
    for old in done[:-keep] if keep else done:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
