"""Provenance records beside every raw file, and their checksums.

Each raw input ``X`` (a CSV, the basemap, a track file or a track folder) has ``X.provenance.json`` beside it:
what it is, where it came from, its licence and its SHA-256. The build recomputes every checksum and stops
when one differs, naming the file; a recorded checksum that is not one (null, a number, false, a list, a text of
another length or case) leaves the file *unreviewed*, refused by name like a changed one, so the review gate cannot
be switched off by editing the record: a changed raw file is reported, never silently used or silently rejected.
After reviewing a change (``git diff data/raw``), ``make accept-raw`` records the new checksums; it writes
only the ``.provenance.json`` records, never the data, and refuses while data/raw does not validate.

Every raw byte is read once (:func:`snapshot`): a table's CSV is read into memory, checksummed, and the build
parses exactly those bytes, so the manifest can only name what was parsed. A track input's recorded checksum
covers its content *and* the ``format`` and ``options`` of its record (how the bytes are interpreted), so
swapping two mapped columns is a change like any other. Track files are too large to hold all in memory at once:
the snapshot streams each to its checksum, and the positions store (:mod:`analysis.tracks.store`) later reads each
file once more, hashes *those* bytes, parses the same bytes and refuses them unless the hash equals the snapshot's
(``Snapshot.contents``, which equals the record): a file changed or swapped and restored in between is never
published under the reviewed checksum. The build reads the track records (format, options) from the snapshot too.
Files are opened through :mod:`analysis.safeio` (regular files inside data/raw only, bounded sizes).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import safeio
from .schema import TABLES

__all__ = [
    "ProvenanceError",
    "checksum",
    "raw_inputs",
    "verify",
    "accept",
    "snapshot",
    "Snapshot",
    "SUFFIX",
    "read_record",
    "track_config",
]

SUFFIX = ".provenance.json"
REQUIRED = ("what", "origin", "licence", "sha256")
TEXT_FIELDS = ("what", "origin", "licence")
TRACK_FORMATS = ("readsb", "opensky", "fr24_csv", "fr24_kml", "fr24_json", "generic_csv")
#: a recorded checksum: SHA-256 as 64 lowercase hexadecimal digits, nothing else (null, 0, false, [] ... are not one)
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class ProvenanceError(ValueError):
    """A raw file without a provenance record, or whose content changed since it was recorded."""


def _content_checksum(path: Path, root: Path | None = None) -> str:
    """SHA-256 of a file, or of a folder (its files' relative paths and checksums, in order). Safe opens only."""
    label = str(path)
    if path.is_dir() and not path.is_symlink():
        return safeio.tree_digest(
            path, {f: safeio.sha256_file(f, str(f), root=root) for f in safeio.walk(path, label)}
        )
    return safeio.sha256_file(path, label, root=root)


def track_config(record: dict) -> dict:
    """The part of a track record that says how its bytes are read: ``format`` and ``options``."""
    return {"format": record.get("format"), "options": record.get("options") or {}}


def _is_track(path: Path) -> bool:
    return path.parent.name == "tracks"


def checksum(path: Path, record: dict | None = None) -> str:
    """The checksum recorded for ``path``: of its bytes; for a track input, of its bytes plus its read config."""
    content = _content_checksum(path)
    if _is_track(path):
        if record is None:
            record = read_record(path)
        return _track_checksum(content, record)
    return content


def _track_checksum(content: str, record: dict) -> str:
    config = json.dumps(track_config(record), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(f"track-input\0{content}\0{config}".encode()).hexdigest()


def raw_inputs(raw: Path) -> list[Path]:
    """Every raw input: the table CSVs, the basemap, and each entry of tracks/ (file or folder)."""
    items = [raw / f"{t.name}.csv" for t in TABLES]
    items += (
        [p for p in sorted((raw / "basemap").glob("*")) if not p.name.endswith(SUFFIX)]
        if (raw / "basemap").is_dir()
        else []
    )
    tracks = raw / "tracks"
    if tracks.is_dir():
        items += [
            p for p in sorted(tracks.iterdir()) if not p.name.endswith(SUFFIX) and not p.name.startswith(".")
        ]
    return items


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def read_record(path: Path) -> dict:
    side = _sidecar(path)
    try:
        data = safeio.read_bytes(side, str(side), max_bytes=safeio.MAX_SIDECAR_BYTES)
    except FileNotFoundError:
        raise ProvenanceError(
            f"{side}: missing provenance record for {path.name}; expected a JSON file with {', '.join(REQUIRED)} "
            "(run `make accept-raw` to create one, then fill in what/origin/licence)"
        ) from None
    except safeio.UnsafeInputError as exc:
        raise ProvenanceError(str(exc)) from None
    try:
        record = safeio.load_json(data.decode("utf-8"), str(side), max_depth=8, strict=True)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProvenanceError(
            f"{side}: expected a JSON object with {', '.join(REQUIRED)}, got unreadable JSON ({exc})"
        ) from None
    except safeio.UnsafeInputError as exc:
        raise ProvenanceError(str(exc)) from None
    if not isinstance(record, dict):
        raise ProvenanceError(f"{side}: expected a JSON object with {', '.join(REQUIRED)}")
    return record


def recorded_checksum(record: dict) -> str | None:
    """The checksum a record holds when it is one (64 lowercase hex digits), else None: the file is unreviewed."""
    value = record.get("sha256")
    return value if isinstance(value, str) and SHA256_PATTERN.fullmatch(value) else None


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"{len(value)} characters {value[:16]!r}{'...' if len(value) > 16 else ''}"
    return f"{type(value).__name__} {json.dumps(value)[:40]}"


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _record_problems(path: Path, record: dict) -> list[str]:
    """Field problems of one record: empty or unclean text, a checksum that is not one, track format and options."""
    from .validate import text_problem

    side = _sidecar(path)
    problems = []
    missing = [k for k in REQUIRED if k != "sha256" and _empty(record.get(k))]
    if missing:
        problems.append(f"{side}: field(s) {', '.join(missing)} empty; expected each to be filled")
    if recorded_checksum(record) is None:
        problems.append(
            f"{side}: field 'sha256': expected the SHA-256 recorded at review, 64 lowercase hexadecimal "
            f"digits, got {_describe(record['sha256']) if 'sha256' in record else 'no such field'}; {path.name} counts as unreviewed and is not "
            "used. Review it (git diff), then run `make accept-raw` to record its checksum"
        )
    for key in TEXT_FIELDS:
        value = record.get(key)
        if key in missing:
            continue
        if not isinstance(value, str):
            problems.append(f"{side}: field '{key}': expected text, got {type(value).__name__} {value!r:.60}")
            continue
        if len(value) > 4000:
            problems.append(f"{side}: field '{key}': expected at most 4000 characters, got {len(value)}")
        elif (bad := text_problem(value)) is not None:
            problems.append(f"{side}: field '{key}': expected {bad[0]}, got {bad[1]} in {value[:60]!r}")
    if _is_track(path):
        fmt = record.get("format")
        if fmt not in TRACK_FORMATS:
            problems.append(
                f"{side}: field 'format': expected one of {', '.join(TRACK_FORMATS)}, got {fmt!r}"
            )
        opts = record.get("options")
        if opts is not None and not isinstance(opts, dict):
            problems.append(f"{side}: field 'options': expected a JSON object, got {type(opts).__name__}")
        elif opts:
            bad_opt = _option_problem(opts)
            if bad_opt:
                problems.append(f"{side}: field 'options': {bad_opt}")
    return problems


def _name_problem(name: str) -> tuple[str, str] | None:
    """Track entry names appear in the data (source notes, exports): printable, no controls or bidi tricks."""
    from .validate import text_problem

    return text_problem(name)


def _option_problem(opts: dict, path: str = "options") -> str | None:
    """Track options hold short clean text, numbers and booleans (a ``mapping`` object one level down)."""
    from .validate import text_problem

    for k, v in opts.items():
        where = f"{path}.{k}"
        bad = text_problem(str(k), ascii_only=True)
        if bad:
            return f"expected option names in {bad[0]}, got {bad[1]}"
        if isinstance(v, dict):
            if path != "options":
                return f"expected {where} to be text or a number, got a nested object"
            if (p := _option_problem(v, where)) is not None:
                return p
        elif isinstance(v, str):
            if len(v) > 200:
                return f"expected {where} of at most 200 characters, got {len(v)}"
            if (bad := text_problem(v)) is not None:
                return f"expected {where} in {bad[0]}, got {bad[1]}"
        elif not (v is None or isinstance(v, bool | int | float)):
            return f"expected {where} to be text, a number or true/false, got {type(v).__name__}"
    return None


@dataclass
class Snapshot:
    """data/raw read once: the table bytes, the checksums of what was read, the records, every problem.

    ``tables`` maps a table name to its CSV bytes (``None``: the file is missing; absent: it could not be read
    safely, see ``problems``). ``sums`` maps each input's path relative to the project to its checksum, as
    recorded in a manifest. ``contents`` maps each track input's path (as :func:`raw_inputs` names it) to the
    checksum of its content alone, which the positions store compares with the bytes it parses. ``changed``
    lists the inputs whose checksum differs from their record.
    """

    raw: Path
    tables: dict[str, bytes | None] = field(default_factory=dict)
    sums: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    contents: dict[str, str] = field(default_factory=dict)

    def check(self) -> dict[str, str]:
        """Raise :class:`ProvenanceError` listing every problem; else return ``sums``."""
        if self.problems:
            raise ProvenanceError(
                f"{len(self.problems)} provenance problem(s) in data/raw:\n"
                + "\n".join(f"  - {p}" for p in self.problems)
            )
        return self.sums


def _rel(raw: Path, path: Path) -> str:
    return path.relative_to(raw.parent.parent).as_posix()


def snapshot(raw: Path, *, tables: bool = True) -> Snapshot:
    """Read every raw input once: table CSVs into memory (checksummed from those bytes), the rest streamed.

    Nothing raises for a data problem: each is listed in ``problems`` (see :meth:`Snapshot.check`).
    """
    snap = Snapshot(raw)
    table_names = {f"{t.name}.csv": t.name for t in TABLES}
    for path in raw_inputs(raw):
        rel = _rel(raw, path)
        is_table = path.parent == raw and path.name in table_names
        if is_table and not tables:
            continue
        if _is_track(path) and (bad := _name_problem(path.name)):
            snap.problems.append(f"{rel}: file name: expected {bad[0]}, got {bad[1]}")
            continue
        try:
            exists = path.exists() or path.is_symlink()
        except OSError:
            exists = True
        if not exists:
            if is_table:
                snap.tables[table_names[path.name]] = (
                    None  # reported by validation, with the expected columns
                )
            continue
        try:
            if is_table:
                data = safeio.read_bytes(path, rel, max_bytes=safeio.MAX_TABLE_BYTES, root=raw)
                snap.tables[table_names[path.name]] = data
                content = hashlib.sha256(data).hexdigest()
            else:
                content = _content_checksum(path, root=raw)
        except safeio.UnsafeInputError as exc:
            snap.problems.append(str(exc))
            continue
        try:
            record = read_record(path)
        except ProvenanceError as exc:
            snap.problems.append(str(exc))
            continue
        snap.records[rel] = record
        snap.problems += _record_problems(path, record)
        now = _track_checksum(content, record) if _is_track(path) else content
        recorded = recorded_checksum(record)
        if recorded is None:
            snap.changed.append(
                rel
            )  # no valid checksum: unreviewed (the problem is listed by _record_problems)
        elif recorded != now:
            snap.changed.append(rel)
            snap.problems.append(
                f"{rel}: CHANGED since its provenance was recorded (sha256 recorded {str(record['sha256'])[:12]}..., "
                f"now {now[:12]}...). Review the change (git diff {rel}); if it is intended, run `make accept-raw` "
                "to record it, then build again"
            )
        snap.sums[rel] = now
        if _is_track(path):
            snap.contents[str(path)] = content
    return snap


def verify(raw: Path) -> dict[str, str]:
    """Check every raw input against its record; return {relative path: sha256}. Raise listing all problems."""
    return snapshot(raw).check()


def accept(raw: Path, *, check: bool = True) -> list[str]:
    """Record current checksums for every raw input (creating records where missing). Returns what changed.

    With ``check`` (the default, and what ``make accept-raw`` does) nothing is recorded unless the raw tables
    validate and every record is well formed apart from its checksum: an unchecked file is never recorded as
    reviewed. ``check=False`` records whatever is there (tests use it to reach the build's own validation).
    """
    snap = snapshot(raw)
    if check:
        from .validate import load_raw

        allowed = (
            ": CHANGED since",
            "empty; expected each",
            "missing provenance record",
            "field 'sha256': expected the SHA-256",
        )
        others = [p for p in snap.problems if not any(a in p for a in allowed)]
        if others:
            raise ProvenanceError(
                "accept-raw recorded nothing: fix these first:\n" + "\n".join(f"  - {p}" for p in others)
            )
        load_raw(raw, data=snap.tables)  # raises RawValidationError naming every problem; nothing recorded
    changed = []
    for path in raw_inputs(raw):
        if not (path.exists() or path.is_symlink()):
            continue
        side = _sidecar(path)
        record = read_record(path) if side.exists() else {}  # a broken record is reported, not overwritten
        rel = _rel(raw, path)
        # the checksum of the bytes that were validated (a file swapped since is not recorded as reviewed)
        try:
            now = snap.sums[rel] if rel in snap.sums and rel in snap.records else checksum(path, record)
        except safeio.UnsafeInputError as exc:
            raise ProvenanceError(f"accept-raw recorded nothing for it: {exc}") from None
        if record.get("sha256") == now:
            continue
        table = path.stem if path.suffix == ".csv" and path.parent == raw else None
        record.setdefault(
            "what",
            f"Raw table {table!r}: see analysis/schema.py and the data dictionary" if table else path.name,
        )
        record.setdefault(
            "origin",
            "Curated by the project from the public sources listed in data/raw/sources.csv" if table else "",
        )
        record.setdefault(
            "licence",
            "CC-BY-4.0 (the project's own curation; facts paraphrased, sources cited)" if table else "",
        )
        record["sha256"] = now
        record["bytes"] = (
            sum(p.stat().st_size for p in safeio.walk(path)) if path.is_dir() else path.stat().st_size
        )
        record["recorded_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        side.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(f"{path.name}: {'recorded' if 'sha256' in record else 'created'} sha256 {now[:12]}...")
    return changed
