"""Each track file is read once: the positions store hashes the bytes it parses, keys its cache on that hash, and
refuses bytes that are not the reviewed ones (a file swapped between the hash and the parse, or changed since
its provenance record). Readers parse bytes as well as paths, with the same limits."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analysis import provenance, safeio
from analysis.tracks import observed
from analysis.tracks.readers import TrackInputError, read_track
from analysis.tracks.store import Store, TrackChangedError, content_hash

CSV_A = "hex,t,lat,lon,alt\n" + "".join(
    f"1522a4,2025-10-26T10:{m:02d}:00Z,10.{m:02d},-66.0,30000\n" for m in range(10)
)
CSV_B = CSV_A.replace("10.05", "11.55")
MAPPING = {"mapping": {"icao24": "hex", "time": "t", "lat": "lat", "lon": "lon", "alt": "alt"}}


def _trace(hex_: str, lat0: float, n: int = 40) -> bytes:
    return json.dumps(
        {
            "icao": hex_,
            "timestamp": 1761472800,
            "r": "RA-78830",
            "t": "IL76",
            "desc": "ILYUSHIN IL-76",
            "trace": [
                [i * 30.0, lat0 + i * 0.05, -66.0 + i * 0.05, 30000, 450.0, 90.0, 0, 0] for i in range(n)
            ],
        }
    ).encode()


def _tree(root: Path, lat0: float = 10.0) -> Path:
    traces = root / "traces"
    for h in ("1522a4", "1522b7"):
        (traces / h[-2:]).mkdir(parents=True, exist_ok=True)
        (traces / h[-2:] / f"trace_full_{h}.json.gz").write_bytes(gzip.compress(_trace(h, lat0), mtime=0))
    return traces


def _lats(part) -> list[float]:
    return sorted(x for f in part.files for x in pq.read_table(f).column("lat").to_pylist())


def _swap_after_first_open(monkeypatch, target: Path, replacement: bytes) -> list[int]:
    """After the first time ``target`` is opened (for a hash or a parse), a different file takes its place: the
    open descriptor keeps the old bytes, any later open sees the new ones."""
    real = safeio._open_regular
    opened: list[int] = []

    def open_then_swap(path, label, max_bytes, root):
        out = real(path, label, max_bytes, root)
        if Path(path) == target:
            opened.append(1)
            if len(opened) == 1:
                tmp = target.with_name(target.name + ".swap")
                tmp.write_bytes(replacement)
                os.replace(tmp, target)
        return out

    monkeypatch.setattr(safeio, "_open_regular", open_then_swap)
    return opened


def test_readers_parse_bytes_and_bytesio_like_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(CSV_A, encoding="utf-8")
    from_file = read_track(path, "generic_csv", MAPPING).table
    assert read_track(CSV_A.encode(), "generic_csv", MAPPING, label=str(path)).table.equals(from_file)
    assert read_track(io.BytesIO(gzip.compress(CSV_A.encode())), "generic_csv", MAPPING).table.equals(
        from_file
    )
    with pytest.raises(TrackInputError, match=r"^x/export\.csv: file: expected data, got an empty file"):
        read_track(b"", "generic_csv", MAPPING, label="x/export.csv")
    with pytest.raises(TrackInputError, match=r"^t\.json: file: expected a complete gzip stream"):
        read_track(gzip.compress(_trace("1522a4", 10.0))[:-30], "readsb", label="t.json")


def test_bytes_keep_the_decompressed_size_limit(monkeypatch):
    monkeypatch.setattr(safeio, "DECOMPRESS_FLOOR", 1 << 16)
    bomb = gzip.compress(b"0" * (4 << 20))  # 4 MB of zeros in a few kB of gzip: over 100 x its size
    with pytest.raises(
        TrackInputError, match=r"^b\.json: file: expected gzip data that decompresses to at most"
    ):
        read_track(bomb, "readsb", label="b.json")


def test_a_file_swapped_between_the_hash_and_the_parse_cannot_be_stored_under_the_hash(tmp_path, monkeypatch):
    """The old store hashed the file in one read and parsed it in another: the positions of B were stored under
    the hash of A. Now the bytes hashed are the bytes parsed."""
    path = tmp_path / "export.csv"
    path.write_text(CSV_A, encoding="utf-8")
    opened = _swap_after_first_open(monkeypatch, path, CSV_B.encode())
    part = Store(tmp_path / "cache").ingest(path, "generic_csv", MAPPING, progress=False)
    assert len(opened) == 1, "the file was opened more than once"
    assert part.content_hash == hashlib.sha256(CSV_A.encode()).hexdigest()
    assert 10.05 in _lats(part) and 11.55 not in _lats(part)


def test_bytes_that_are_not_the_reviewed_ones_are_refused_and_not_stored(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(CSV_B, encoding="utf-8")  # on disk: B; reviewed: A
    store = Store(tmp_path / "cache")
    reviewed = hashlib.sha256(CSV_A.encode()).hexdigest()
    with pytest.raises(
        TrackChangedError,
        match=r"export\.csv: file: changed during the build: expected the "
        r"reviewed content \(sha256 " + reviewed[:12],
    ):
        store.ingest(path, "generic_csv", MAPPING, progress=False, expected_hash=reviewed)
    assert not list(store.dir.iterdir()), "a part was stored from bytes that are not the reviewed ones"
    path.write_text(CSV_A, encoding="utf-8")
    part = store.ingest(path, "generic_csv", MAPPING, progress=False, expected_hash=reviewed)
    assert part.content_hash == reviewed and 10.05 in _lats(part)


def test_tree_hash_is_the_provenance_checksum_and_the_cache_key(tmp_path):
    tree = _tree(tmp_path / "adsb")
    assert content_hash(tree) == provenance._content_checksum(tree)
    store = Store(tmp_path / "cache")
    part = store.ingest(tree, "readsb", progress=False, processes=1)
    assert part.content_hash == content_hash(tree)
    again = store.ingest(tree, "readsb", progress=False, processes=1, expected_hash=content_hash(tree))
    assert again.reused and again.key == part.key
    # trace metadata comes from the parsed bytes, with the rest of the part
    assert again.meta["1522a4"]["t"] == "IL76" and again.meta["1522b7"]["file"] == "trace_full_1522b7.json.gz"


def test_a_trace_swapped_between_the_hash_and_the_parse_is_refused_and_named(tmp_path, monkeypatch):
    tree = _tree(tmp_path / "adsb")
    target = tree / "b7" / "trace_full_1522b7.json.gz"
    _swap_after_first_open(monkeypatch, target, gzip.compress(_trace("1522b7", 12.0), mtime=0))
    store = Store(tmp_path / "cache")
    with pytest.raises(
        TrackChangedError, match=r"traces \(b7/trace_full_1522b7\.json\.gz\): file: changed during"
    ):
        store.ingest(tree, "readsb", progress=False, processes=1)
    assert not list(store.dir.glob("part-*")) and not list(store.dir.glob(".tmp-*"))


def test_a_tree_with_a_trace_not_reviewed_is_refused(tmp_path):
    tree = _tree(tmp_path / "adsb")
    reviewed = content_hash(tree)
    (tree / "a4" / "trace_full_1522a4.json.gz").write_bytes(gzip.compress(_trace("1522a4", 12.0), mtime=0))
    with pytest.raises(TrackChangedError, match=r"traces: file: changed during the build"):
        observed(
            [(str(tree), "readsb", {})],
            cache_dir=tmp_path / "cache",
            processes=1,
            progress=False,
            expected_sha256={str(tree): reviewed},
        )
    res = observed([(str(tree), "readsb", {})], cache_dir=tmp_path / "cache", processes=1, progress=False)
    assert res.n_positions > 0 and res.meta["1522a4"]["r"] == "RA-78830"


# ------------------------------------------------------------------------------- scratch of killed runs
def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_scratch_of_killed_ingests_and_merges_is_pruned_when_the_store_opens(tmp_path):
    import time

    positions = tmp_path / "cache" / "positions"
    positions.mkdir(parents=True)
    dead, live = _dead_pid(), os.getpid()
    stale = [
        positions / f".tmp-{'a' * 24}-{dead}",
        positions / f"merged-{'b' * 24}.{dead}.tmp.parquet",
        positions / f"merged-{'c' * 24}.tmp.parquet",
    ]  # the last: older code, no writer id, two hours old
    kept = [
        positions / f".tmp-{'d' * 24}-{live}",
        positions / f"merged-{'e' * 24}.{live}.tmp.parquet",
        positions / f"merged-{'f' * 24}.tmp.parquet",  # no writer id and fresh: may still be written
        positions / f"merged-{'b' * 24}.parquet",
        positions / f"part-{'b' * 24}",
        positions / f"part-{'b' * 24}.json",
    ]
    for p in stale + kept:
        if p.name.startswith(".tmp-") or (p.name.startswith("part-") and not p.suffix):
            p.mkdir()
            (p / "00000.parquet").write_bytes(b"x")
        else:
            p.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(stale[2], (two_hours_ago, two_hours_ago))
    Store(tmp_path / "cache")
    assert [p for p in stale if p.exists()] == [] and all(p.exists() for p in kept)


def test_a_failed_merge_leaves_no_scratch(tmp_path, monkeypatch):
    import duckdb

    from analysis.tracks import _merge_parts

    store = Store(tmp_path / "cache")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(CSV_A, encoding="utf-8")
    b.write_text(CSV_B, encoding="utf-8")
    parts = [store.ingest(p, "generic_csv", MAPPING, progress=False) for p in (a, b)]
    real = duckdb.connect

    class Failing:
        def __init__(self):
            self.con = real()

        def execute(self, sql, params=None):
            if sql.lstrip().startswith("COPY"):
                (tmp_path / "cache" / "positions").joinpath(Path(params[1]).name).write_bytes(b"half")
                raise duckdb.IOException("disk full")
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    monkeypatch.setattr(duckdb, "connect", Failing)
    with pytest.raises(duckdb.IOException):
        _merge_parts(parts, tmp_path / "cache", __import__("collections").Counter())
    assert not list(store.dir.glob("merged-*"))
