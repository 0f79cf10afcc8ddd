"""Provenance records beside every raw file, and their checksums.

Each raw input ``X`` (a CSV, the basemap, a track file or a track folder) has ``X.provenance.json`` beside it:
what it is, where it came from, its licence and its SHA-256. The build recomputes every checksum and stops
when one differs, naming the file: a changed raw file is reported, never silently used or silently rejected.
After reviewing a change (``git diff data/raw``), ``make accept-raw`` records the new checksums; it writes
only the ``.provenance.json`` records, never the data.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from .schema import TABLES

__all__ = ["ProvenanceError", "checksum", "raw_inputs", "verify", "accept", "SUFFIX"]

SUFFIX = ".provenance.json"
REQUIRED = ("what", "origin", "licence", "sha256")


class ProvenanceError(ValueError):
    """A raw file without a provenance record, or whose content changed since it was recorded."""


def checksum(path: Path) -> str:
    """SHA-256 of a file, or of a folder (its files' relative paths and checksums, in order)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + checksum(f).encode() + b"\n")
        return h.hexdigest()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def raw_inputs(raw: Path) -> list[Path]:
    """Every raw input: the table CSVs, the basemap, and each entry of tracks/ (file or folder)."""
    items = [raw / f"{t.name}.csv" for t in TABLES]
    items += [p for p in sorted((raw / "basemap").glob("*")) if not p.name.endswith(SUFFIX)] if (raw / "basemap").is_dir() else []
    tracks = raw / "tracks"
    if tracks.is_dir():
        items += [p for p in sorted(tracks.iterdir()) if not p.name.endswith(SUFFIX) and not p.name.startswith(".")]
    return items


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def read_record(path: Path) -> dict:
    side = _sidecar(path)
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(
            f"{side}: missing provenance record for {path.name}; expected a JSON file with {', '.join(REQUIRED)} "
            "(run `make accept-raw` to create one, then fill in what/origin/licence)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProvenanceError(f"{side}: expected a JSON object with {', '.join(REQUIRED)}, got unreadable JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ProvenanceError(f"{side}: expected a JSON object with {', '.join(REQUIRED)}")
    return record


def verify(raw: Path) -> dict[str, str]:
    """Check every raw input against its record; return {relative path: sha256}. Raise listing all problems."""
    problems: list[str] = []
    sums: dict[str, str] = {}
    for path in raw_inputs(raw):
        if not path.exists():
            continue  # a missing table is reported by validation, with the expected columns
        rel = path.relative_to(raw.parent.parent).as_posix() if raw.parent.parent in path.parents else str(path)
        try:
            record = read_record(path)
        except ProvenanceError as exc:
            problems.append(str(exc))
            continue
        missing = [k for k in REQUIRED if not str(record.get(k, "")).strip()]
        if missing:
            problems.append(f"{_sidecar(path)}: field(s) {', '.join(missing)} empty; expected each to be filled")
        now = checksum(path)
        if record.get("sha256") and record["sha256"] != now:
            problems.append(
                f"{rel}: CHANGED since its provenance was recorded (sha256 recorded {str(record['sha256'])[:12]}..., "
                f"now {now[:12]}...). Review the change (git diff {rel}); if it is intended, run `make accept-raw` "
                "to record it, then build again"
            )
        sums[rel] = now
    if problems:
        raise ProvenanceError(f"{len(problems)} provenance problem(s) in data/raw:\n" + "\n".join(f"  - {p}" for p in problems))
    return sums


def accept(raw: Path) -> list[str]:
    """Record current checksums for every raw input (creating records where missing). Returns what changed."""
    changed = []
    for path in raw_inputs(raw):
        if not path.exists():
            continue
        side = _sidecar(path)
        record = read_record(path) if side.exists() else {}  # a broken record is reported, not overwritten
        now = checksum(path)
        if record.get("sha256") == now:
            continue
        table = path.stem if path.suffix == ".csv" and path.parent == raw else None
        record.setdefault("what", f"Raw table {table!r}: see analysis/schema.py and the data dictionary" if table else path.name)
        record.setdefault("origin", "Curated by the project from the public sources listed in data/raw/sources.csv"
                          if table else "")
        record.setdefault("licence", "CC-BY-4.0 (the project's own curation; facts paraphrased, sources cited)"
                          if table else "")
        record["sha256"] = now
        record["bytes"] = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
        record["recorded_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        side.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        changed.append(f"{path.name}: {'recorded' if 'sha256' in record else 'created'} sha256 {now[:12]}...")
    return changed
