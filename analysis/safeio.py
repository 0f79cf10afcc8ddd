"""Open raw inputs safely: regular files only, bounded sizes, gzip as a capped stream, bounded JSON depth.

Everything under ``data/raw`` (and every track file a reader is given) is read through this module:

* :func:`read_bytes` reads one *regular* file: the path is checked with ``lstat`` before it is opened (a symlink,
  FIFO, socket or device is refused, named, without opening it), opened with ``O_NOFOLLOW | O_NONBLOCK`` (so a
  FIFO swapped in between the check and the open can never block), checked again with ``fstat`` (same file, still
  regular) and read up to a size limit. With ``root`` given, the file must also lie inside that folder and no
  part of its path below ``root`` may be a symlink.
* :func:`gunzip` decompresses as a stream and stops at a decompressed-size cap: a gzip bomb costs at most the
  cap in memory, never the bomb's size.
* :func:`walk` lists the files of a folder (a track tree) without following symlinks, refusing anything that is
  not a regular file or folder.
* :func:`load_json` refuses JSON nested deeper than a limit with a clear error (never a ``RecursionError``).

Errors are :class:`UnsafeInputError` (a ``ValueError``) naming the file, what was expected and what was found.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import zlib
from pathlib import Path

__all__ = [
    "UnsafeInputError",
    "read_bytes",
    "sha256_file",
    "gunzip",
    "walk",
    "tree_digest",
    "load_json",
    "json_depth",
    "MAX_FILE_BYTES",
    "MAX_SIDECAR_BYTES",
    "MAX_TABLE_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_JSON_DEPTH",
]

#: a raw table CSV (the whole evidence base is a few hundred kB; 64 MB leaves a lot of room)
MAX_TABLE_BYTES = 64 << 20
#: a provenance sidecar or other small JSON record
MAX_SIDECAR_BYTES = 1 << 20
#: any single track file (readsb traces are kB to MB; an OpenSky/FR24 export may be large)
MAX_FILE_BYTES = int(os.environ.get("FLIGHTS_MAX_FILE_BYTES", 4 << 30))
#: decompressed size of one gzip member: at most this, and at most DECOMPRESS_RATIO times the compressed size
MAX_DECOMPRESSED_BYTES = int(os.environ.get("FLIGHTS_MAX_DECOMPRESSED_BYTES", 1 << 30))
DECOMPRESS_RATIO = 100
DECOMPRESS_FLOOR = 64 << 20
#: JSON nesting (readsb traces nest 3-4 deep, sidecars 3)
MAX_JSON_DEPTH = 64


class UnsafeInputError(ValueError):
    """A raw input that is not a regular file inside the project, or exceeds a size or depth limit."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check_inside(path: Path, root: Path, label: str) -> None:
    """``path`` lies under ``root`` and none of its components below ``root`` is a symlink."""
    root_abs = Path(os.path.abspath(root))
    p = Path(os.path.abspath(path))
    try:
        rel = p.relative_to(root_abs)
    except ValueError:
        raise UnsafeInputError(
            f"{label}: file: expected a file inside {root}, got a path outside it"
        ) from None
    cur = root_abs
    for part in rel.parts[:-1]:
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path)) from None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeInputError(
                f"{label}: file: expected a regular folder on the way to it, got {cur.name!r}, "
                "a symbolic link (raw inputs are never read through links)"
            )


def _open_regular(path: Path, label: str, max_bytes: int, root: Path | None) -> tuple[int, int]:
    """Checks, then ``os.open``: (fd, size). The caller closes the fd."""
    if root is not None:
        _check_inside(path, root, label)
    st = os.lstat(path)  # FileNotFoundError passes through: callers report a missing file their own way
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeInputError(
            f"{label}: file: expected a regular file, got {_kind(st.st_mode)}"
            + (f" (pointing to {os.readlink(path)!r})" if stat.S_ISLNK(st.st_mode) else "")
        )
    if st.st_size > max_bytes:
        raise UnsafeInputError(f"{label}: file: expected at most {max_bytes:,} bytes, got {st.st_size:,}")
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeInputError(f"{label}: file: expected a regular file, got a symbolic link") from None
        raise
    fst = os.fstat(fd)
    if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise UnsafeInputError(
            f"{label}: file: expected the regular file that was checked, got "
            f"{_kind(fst.st_mode) if not stat.S_ISREG(fst.st_mode) else 'a different file'}"
            " (it was replaced while being opened)"
        )
    return fd, fst.st_size


def _blocks(fd: int, label: str, max_bytes: int):
    total = 0
    while True:
        block = os.read(fd, min(1 << 24, max_bytes + 1 - total))
        if not block:
            return
        total += len(block)
        if total > max_bytes:
            raise UnsafeInputError(
                f"{label}: file: expected at most {max_bytes:,} bytes, got more (it grew while being read)"
            )
        yield block


def read_bytes(
    path: Path | str, label: str | None = None, *, max_bytes: int = MAX_FILE_BYTES, root: Path | None = None
) -> bytes:
    """The bytes of one regular file, read once. Raises :class:`UnsafeInputError` or ``FileNotFoundError``."""
    path = Path(path)
    fd, _ = _open_regular(path, label or str(path), max_bytes, root)
    try:
        return b"".join(_blocks(fd, label or str(path), max_bytes))
    finally:
        os.close(fd)


def sha256_file(
    path: Path | str, label: str | None = None, *, max_bytes: int = MAX_FILE_BYTES, root: Path | None = None
) -> str:
    """SHA-256 of one regular file, streamed (same checks as :func:`read_bytes`)."""
    path = Path(path)
    fd, _ = _open_regular(path, label or str(path), max_bytes, root)
    h = hashlib.sha256()
    try:
        for block in _blocks(fd, label or str(path), max_bytes):
            h.update(block)
    finally:
        os.close(fd)
    return h.hexdigest()


def gunzip(data: bytes, label: str, *, max_out: int | None = None) -> bytes:
    """Decompress gzip ``data`` (one or more members) as a stream, refusing output beyond ``max_out`` bytes.

    The default cap is ``DECOMPRESS_RATIO`` times the compressed size (at least 64 MB), and never more than
    ``MAX_DECOMPRESSED_BYTES``. Raises :class:`UnsafeInputError` on a bomb and ``zlib.error``/``EOFError``
    on corrupt or truncated data (callers word those for their format).
    """
    if max_out is None:
        max_out = min(MAX_DECOMPRESSED_BYTES, max(DECOMPRESS_FLOOR, DECOMPRESS_RATIO * len(data)))
    out = bytearray()
    view = memoryview(data)
    while True:
        d = zlib.decompressobj(wbits=31)
        pending: bytes | memoryview = view
        while True:
            chunk = d.decompress(pending, (max_out - len(out)) + 1)
            out += chunk
            if len(out) > max_out:
                raise UnsafeInputError(
                    f"{label}: file: expected gzip data that decompresses to at most "
                    f"{max_out:,} bytes, got more (a decompression bomb?)"
                )
            pending = d.unconsumed_tail
            if d.eof or not pending:
                break
        if not d.eof:
            out += d.flush()
            if len(out) > max_out:
                raise UnsafeInputError(
                    f"{label}: file: expected gzip data that decompresses to at most "
                    f"{max_out:,} bytes, got more (a decompression bomb?)"
                )
            if not d.eof:
                raise EOFError("truncated gzip stream")
        rest = d.unused_data
        if not rest or not rest.startswith(b"\x1f\x8b"):
            if rest.strip(b"\0"):
                raise zlib.error("trailing garbage after the gzip stream")
            return bytes(out)
        view = memoryview(rest)


def walk(folder: Path, label: str | None = None) -> list[Path]:
    """Every regular file under ``folder`` (sorted), never following links; anything else is refused."""
    folder = Path(folder)
    label = label or str(folder)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeInputError(f"{label}: expected a folder, got {_kind(st.st_mode)}")
    out: list[Path] = []
    stack = [folder]
    while stack:
        cur = stack.pop()
        with os.scandir(cur) as it:
            for entry in it:
                mode = entry.stat(follow_symlinks=False).st_mode
                p = Path(entry.path)
                if stat.S_ISDIR(mode):
                    stack.append(p)
                elif stat.S_ISREG(mode):
                    out.append(p)
                else:
                    raise UnsafeInputError(
                        f"{label}/{p.relative_to(folder).as_posix()}: file: expected a regular "
                        f"file, got {_kind(mode)}"
                    )
    return sorted(out)


def tree_digest(folder: Path, digests: dict) -> str:
    """The checksum of a folder from its files' SHA-256 (``{path: hex digest}``, paths under ``folder``): each file's
    relative path, NUL, its hex digest and a newline, in :func:`walk` order. The provenance records and the positions
    store both use it, so the store can compare what it parsed with what was reviewed."""
    folder = Path(folder)
    h = hashlib.sha256()
    items = {Path(p): d for p, d in digests.items()}
    for f in sorted(items):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0" + items[f].encode() + b"\n")
    return h.hexdigest()


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text (strings skipped); linear, no recursion."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    depth = best = 0
    i, n = 0, len(text)
    find = text.find
    while i < n:
        # jump to the next structural character or quote
        c = text[i]
        if c == '"':
            j = i + 1
            while True:
                j = find('"', j)
                if j < 0:
                    return best
                k = j - 1
                while text[k] == "\\":
                    k -= 1
                if (j - 1 - k) % 2 == 0:
                    break
                j += 1
            i = j + 1
            continue
        if c in "[{":
            depth += 1
            best = max(best, depth)
        elif c in "]}":
            depth -= 1
        i += 1
    return best


def _no_duplicates(label: str):
    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise UnsafeInputError(
                    f"{label}: expected each key once in a JSON object, got {k!r} twice "
                    "(a reader and a program could each see a different value)"
                )
            seen.add(k)
        return dict(pairs)

    return hook


def _no_constant(label: str):
    def hook(name):
        raise UnsafeInputError(f"{label}: expected standard JSON numbers, got {name}")

    return hook


def load_json(
    text: str | bytes,
    label: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    check_depth: bool = True,
    strict: bool = False,
):
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (and never lets a RecursionError out).

    ``check_depth=False`` skips the linear pre-scan (for large track files) and relies on catching the
    parser's own RecursionError. ``strict`` also refuses repeated keys and NaN/Infinity (records that people
    review). ``json.JSONDecodeError``/``UnicodeDecodeError`` pass through.
    """
    if check_depth and (d := json_depth(text)) > max_depth:
        raise UnsafeInputError(
            f"{label}: expected JSON nested at most {max_depth} levels deep, got {d} levels"
        )
    extra = (
        {"object_pairs_hook": _no_duplicates(label), "parse_constant": _no_constant(label)} if strict else {}
    )
    try:
        return json.loads(text, **extra)
    except RecursionError:
        raise UnsafeInputError(
            f"{label}: expected JSON nested at most {max_depth} levels deep, got deeper nesting"
        ) from None
