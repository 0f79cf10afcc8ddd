"""Observed flight records (ADS-B, OpenSky, Flightradar24) joined to the reported evidence.

Track files live in ``data/raw/tracks/``; each file or folder has a provenance record beside it that also says
its ``format`` (``readsb``, ``opensky``, ``fr24_csv``, ``fr24_kml``, ``fr24_json``, ``generic_csv``) and, for
generic CSV, its ``options`` (the column mapping). :mod:`analysis.tracks` reads and segments them; here the legs
of aircraft on the watchlist become routes with ``evidence = 'observed'``:

* an observed trip (legs with less than :data:`TRIP_BREAK_DAYS` on the ground between them) that overlaps a
  reported episode of the same aircraft joins that episode, so the episode shows both, side by side;
* otherwise, if it touches the study's destination region (the areas of role 'destination' in corridors.csv),
  it becomes an observed episode of its own
  (``obs-<aircraft>-<yyyymmdd>``); trips elsewhere are counted and left out.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polars as pl

from . import geo, provenance, steps
from .paths import Project
from .prepare import place_row
from .trips import split_trips, study_region  # one trip and region definition, shared with discovery

__all__ = [
    "ObservedEvidence",
    "integrate",
    "evidence",
    "compare",
    "study_region",
    "TRIP_BREAK_DAYS",
    "track_inputs",
    "summary",
    "source_ids_for",
    "check_tracks",
    "EXCLUDED_SCHEMA",
    "EXCLUDED_REASONS",
]

log = logging.getLogger(__name__)

TRIP_BREAK_DAYS = 10
MATCH_MARGIN = timedelta(days=3)
UTC_TS = pl.Datetime("us", "UTC")


#: the declared shapes of core_gaps and core_observed_excluded (analysis/steps.py)
GAPS_SCHEMA = steps.table_schema("core_gaps")
EXCLUDED_SCHEMA = steps.table_schema("core_observed_excluded")
#: what each exclusion reason means (printed with the build summary, shown on the report)
EXCLUDED_REASONS = {
    "outside_region": "observed trip of a watched aircraft that never touches the study's destination region",
    "not_watched": "aircraft in a track file that is not on the watchlist",
    "refused_leg": "candidate leg refused by the flight rules (taxi, ground-flag flicker, altitude glitch)",
    "noise": "positions dropped by the noise filter",
    "skipped_file": "trace file inside a folder that could not be read",
    "aircraft_created": "watched aircraft without an aircraft row: created from the track's metadata (kept, listed)",
}


@dataclass
class ObservedEvidence:
    """Observed stops (in the prep_stops shape), the sources, aircraft, places and episodes they add, gaps, and
    what was left out: the ``obs_*`` tables that later steps union with the reported ones (analysis/steps.py).

    ``excluded`` (:data:`EXCLUDED_SCHEMA`) lists everything the observed path did not turn into evidence,
    with its reason (:data:`EXCLUDED_REASONS`); the build prints :func:`summary` of it and keeps it as
    ``core_observed_excluded``.
    """

    stops: pl.DataFrame = field(default_factory=pl.DataFrame)
    gaps: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=GAPS_SCHEMA))
    notes: list[str] = field(default_factory=list)
    excluded: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EXCLUDED_SCHEMA))
    sources: pl.DataFrame = field(default_factory=pl.DataFrame)
    aircraft: pl.DataFrame = field(default_factory=pl.DataFrame)
    places: pl.DataFrame = field(default_factory=pl.DataFrame)
    episodes: pl.DataFrame = field(default_factory=pl.DataFrame)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The step outputs: ``obs_sources``, ``obs_aircraft``, ``obs_places``, ``obs_episodes``, ``obs_stops``,
        ``core_gaps`` and ``core_observed_excluded``."""
        return {
            "obs_sources": self.sources,
            "obs_aircraft": self.aircraft,
            "obs_places": self.places,
            "obs_episodes": self.episodes,
            "obs_stops": self.stops,
            "core_gaps": self.gaps,
            "core_observed_excluded": self.excluded,
        }


def summary(excluded: pl.DataFrame) -> list[str]:
    """Lines for the build summary: what the observed path left out, by reason."""
    if excluded.is_empty():
        return []
    lines = ["observed flight records, left out or added (table core_observed_excluded):"]
    for (kind, reason), g in excluded.group_by("kind", "reason", maintain_order=True):
        lines.append(
            f"  {reason}: {g.height} {kind} row(s), n = {int(g['n'].sum()):,}"
            f" ({EXCLUDED_REASONS.get(reason, reason)})"
        )
        for r in g.head(5).iter_rows(named=True):
            who = r["aircraft_id"] or r["icao24"] or ""
            when = f" {r['first_utc']:%Y-%m-%d}" if r["first_utc"] else ""
            lines.append(f"    {who}{when}: {r['detail']}")
        if g.height > 5:
            lines.append(f"    ... and {g.height - 5} more")
    return lines


def source_ids_for(names: list[str]) -> dict[str, str]:
    """A unique source id per track input name: ``track-<slug>``; names whose slugs collide
    (``a.b.csv`` and ``a-b.csv``) all get a short hash of the exact name appended."""
    slugs = {n: f"track-{_slug(n)}" for n in names}
    count: dict[str, int] = {}
    for s in slugs.values():
        count[s] = count.get(s, 0) + 1
    out = {}
    for n, s in slugs.items():
        out[n] = s if count[s] == 1 else f"{s}-{hashlib.sha256(n.encode()).hexdigest()[:8]}"
    if len(set(out.values())) != len(out):  # cannot happen short of a sha256 prefix collision
        raise provenance.ProvenanceError(
            f"data/raw/tracks: track names give duplicate source ids: {sorted(names)}"
        )
    return out


def track_inputs(
    project: Project, snapshot: provenance.Snapshot | None = None
) -> list[tuple[str, str, dict]]:
    """(path, format, options) for every entry of data/raw/tracks, from its provenance record (as the snapshot
    read it, when given: the record whose checksum the build checked)."""
    out = []
    for path in provenance.raw_inputs(project.raw):
        if path.parent != project.tracks:
            continue
        rel = path.relative_to(project.raw.parent.parent).as_posix()
        record = (
            snapshot.records[rel]
            if snapshot is not None and rel in snapshot.records
            else provenance.read_record(path)
        )
        fmt = record.get("format")
        if not fmt:
            raise provenance.ProvenanceError(
                f"{path}{provenance.SUFFIX}: field 'format' missing; expected one of readsb, opensky, fr24_csv, "
                "fr24_kml, fr24_json, generic_csv"
            )
        out.append((str(path), fmt, record.get("options") or {}))
    return out


def check_tracks(project: Project) -> list[str]:
    """Read every track input's contents (as the build would, writing nothing): one line per input with its
    positions and aircraft. A bad file raises :class:`analysis.tracks.TrackInputError` naming file, record and
    field; an unreadable trace inside a folder is listed (the build skips it the same way)."""
    from .tracks import readers

    lines = []
    for path, fmt, options in track_inputs(project):
        p = Path(path)
        if p.is_dir():
            if fmt != "readsb":
                raise readers.TrackInputError(
                    f"{p}: file: expected a file for format {fmt!r}, got a directory"
                )
            if options:
                readers.check_options(fmt, options, str(p))
            files = readers.readsb_tree_files(p)
            if not files:
                raise readers.TrackInputError(
                    f"{p}: file: expected trace_*.json files in a traces/ tree, got none"
                )
            n, hexes, bad = 0, set(), []
            for f in files:
                try:
                    r = readers.read_readsb_file(f, label=str(f.relative_to(p.parent)))
                except readers.TrackInputError as e:
                    bad.append(str(e))
                    continue
                if r is not None and r.table.num_rows:
                    n += r.table.num_rows
                    hexes.add(r.table.column("icao24")[0].as_py())
            if len(bad) == len(files):
                raise readers.TrackInputError(
                    f"{p}: file: expected at least one readable trace; first error: {bad[0]}"
                )
            lines.append(
                f"{p.name}: {fmt}, {len(files)} trace file(s), {n:,} positions, {len(hexes)} aircraft"
                + (f"; {len(bad)} unreadable file(s) the build will skip, first: {bad[0]}" if bad else "")
            )
        else:
            r = readers.read_track(p, fmt, options)
            hexes = set(r.table.column("icao24").unique().to_pylist())
            lines.append(f"{p.name}: {fmt}, {r.table.num_rows:,} positions, {len(hexes)} aircraft")
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def evidence(t) -> dict[str, pl.DataFrame]:
    """The step code of the observed tables (analysis/steps.py): :func:`integrate` over the step's inputs, or the
    :class:`ObservedEvidence` the build was given (``t.observed``), as tables."""
    obs = t.observed
    if obs is None:
        obs = integrate(
            t.project,
            t["raw.corridors"],
            t["raw.watchlist"],
            t["prep_aircraft"],
            t["prep_places"],
            t["prep_stops"],
            snapshot=t.snapshot,
        )
    return obs.tables()


def integrate(
    project: Project,
    corridors: pl.DataFrame,
    watch: pl.DataFrame,
    known: pl.DataFrame,
    places: pl.DataFrame,
    reported: pl.DataFrame,
    snapshot: provenance.Snapshot | None = None,
) -> ObservedEvidence:
    """Observed routes of watched aircraft, shaped like the reported stops (``reported``, prep_stops), with the
    sources, places, episodes and (for watched aircraft without a row in ``known``) aircraft they add; nothing
    given is changed. ``places``: the reported places (an observed fix at one of their airports is that place).

    Trips: an aircraft's legs in time order of their first fix; a new trip starts when the aircraft was
    unseen in the air for more than :data:`TRIP_BREAK_DAYS` between two legs (last airborne fix of one to
    first airborne fix of the next, both always known).

    Each track file is parsed from bytes that hash to the checksum in ``snapshot`` (the build's read of data/raw,
    checked against the records; taken here when not given): a file changed since is refused, named
    (:class:`analysis.tracks.store.TrackChangedError`). The records (format, options, what, origin, licence) come
    from the same snapshot.
    """
    if snapshot is None:
        snapshot = provenance.snapshot(project.raw, tables=False)
    inputs = track_inputs(project, snapshot)
    if not inputs:
        return ObservedEvidence()
    from . import tracks

    # the region where a trip becomes an episode: the destination areas of corridors.csv (one definition for
    # observed trips and findings)
    region = set(study_region(corridors))
    hex_to_aircraft: dict[str, str | None] = {}
    reg_to_aircraft: dict[str, str | None] = {}
    for h, r, a in zip(watch["icao_hex"], watch["registration"], watch["aircraft_id"], strict=True):
        aid = a or r  # None: named from the track's registration (else hex-<address>) when seen
        if h:
            hex_to_aircraft[h.lower()] = aid
        if r:
            reg_to_aircraft[r.upper()] = aid
    watch_hex = set(hex_to_aircraft) if not reg_to_aircraft else None  # registrations need all aircraft read
    result = tracks.observed(
        inputs,
        watch_hex=watch_hex,
        cache_dir=project.positions_cache,
        progress=False,
        expected_sha256={p: snapshot.contents[p] for p, _, _ in inputs if p in snapshot.contents},
    )
    excluded: list[dict] = []
    names = [Path(p).name for p, _, _ in inputs]
    source_of = source_ids_for(names)  # input name -> source id
    all_sources = ";".join(sorted(source_of.values()))
    for file, _record, reason in result.skipped:
        excluded.append(
            {
                "kind": "track_file",
                "reason": "skipped_file",
                "n": 1,
                "detail": f"{file}: {reason}",
                "source_ids": all_sources,
            }
        )
    for reason, n in result.noise.iter_rows():
        excluded.append(
            {"kind": "positions", "reason": "noise", "n": n, "detail": reason, "source_ids": all_sources}
        )
    for reason, n in sorted(result.rejected.items()):
        excluded.append(
            {
                "kind": "candidate_legs",
                "reason": "refused_leg",
                "n": n,
                "detail": reason,
                "source_ids": all_sources,
            }
        )
    legs = result.legs
    # each track input is cited like a publication: a source row of kind flight_tracker
    src_rows = []
    for path, fmt, _ in inputs:
        p = Path(path)
        rel = p.relative_to(project.raw.parent.parent).as_posix()
        record = snapshot.records.get(rel) or provenance.read_record(p)
        src_rows.append(
            {
                "source_id": source_of[p.name],
                "outlet": "Observed flight records",
                "title": record.get("what"),
                "kind": "flight_tracker",
                "is_secondary": False,
                "language": None,
                "relays": record.get("origin"),
                "seed_file": None,
                "url": None,
                "notes": f"data/raw/tracks/{p.name} ({fmt}); licence: {record.get('licence')}",
                "published_precision": "unknown",
            }
        )
    obs_sources = pl.DataFrame(src_rows)
    if legs.height == 0:
        return ObservedEvidence(
            notes=[f"{len(inputs)} track input(s), no legs"],
            excluded=_excluded(excluded),
            sources=obs_sources,
        )

    def aircraft_of(hex_: str, reg: str | None) -> str | None:
        if hex_ in hex_to_aircraft:
            return hex_to_aircraft[hex_] or (reg.upper() if reg else f"hex-{hex_}")
        return reg_to_aircraft.get(reg.upper()) if reg else None

    def cited(inputs_field: str | None) -> str | None:
        return (
            ";".join(sorted({source_of[n] for n in (inputs_field or "").split(";") if n in source_of}))
            or None
        )

    legs = legs.with_columns(
        pl.struct("icao24", "registration")
        .map_elements(lambda s: aircraft_of(s["icao24"], s["registration"]), return_dtype=pl.String)
        .alias("aircraft_id")
    )
    for (hex_,), g in legs.filter(pl.col("aircraft_id").is_null()).group_by("icao24", maintain_order=True):
        excluded.append(
            {
                "kind": "aircraft",
                "reason": "not_watched",
                "icao24": hex_,
                "registration": g["registration"].drop_nulls().first(),
                "first_utc": g["first_seen_utc"].min(),
                "last_utc": g["last_seen_utc"].max(),
                "n": g.height,
                "detail": f"{g.height} leg(s) of an aircraft not on the watchlist",
                "source_ids": cited(";".join(g["source_inputs"].drop_nulls())),
            }
        )
    legs = legs.filter(pl.col("aircraft_id").is_not_null())
    # watched aircraft with no aircraft row: created from the trace's metadata, the track as their source
    known_aircraft = set(known["aircraft_id"])
    missing = legs.filter(~pl.col("aircraft_id").is_in(list(known_aircraft)))
    new_rows = []
    if missing.height:
        meta = result.meta  # read from the parsed bytes by the positions store
        for (aid,), g in missing.group_by("aircraft_id", maintain_order=True):
            hex_ = g["icao24"][0]
            m = meta.get(hex_, {})
            reg = m.get("r") or g["registration"].drop_nulls().first()
            src = cited(";".join(g["source_inputs"].drop_nulls()))
            facts = [f"{k} {m[k]!r}" for k in ("t", "desc", "ownOp", "dbFlags") if m.get(k) not in (None, "")]
            note = "created from observed flight records (no row in aircraft.csv)" + (
                f"; trace metadata in {m['file']}: " + ", ".join(facts) if facts else "; no type in the track"
            )
            new_rows.append(
                {
                    "aircraft_id": aid,
                    "registration": reg,
                    "type_id": None,
                    "operator_id": None,
                    "name": None,
                    "board_number": None,
                    "icao_hex": hex_,
                    "source_ids": src,
                    "notes": note,
                    "type_name": m.get("desc"),
                    "icao_type": m.get("t"),
                    "operator_name": m.get("ownOp"),
                    "label": reg or aid,
                }
            )
            excluded.append(
                {
                    "kind": "aircraft",
                    "reason": "aircraft_created",
                    "icao24": hex_,
                    "aircraft_id": aid,
                    "registration": reg,
                    "first_utc": g["first_seen_utc"].min(),
                    "last_utc": g["last_seen_utc"].max(),
                    "n": g.height,
                    "detail": note,
                    "source_ids": src,
                }
            )
    legs = legs.sort("aircraft_id", "first_seen_utc")

    place_rows: dict[str, dict] = {}
    known_places = set(places["place_id"])

    def place_for(icao: str | None, lat: float | None, lon: float | None) -> str:
        a = geo.airport(icao) if icao else None
        if icao and a:
            pid = icao
            if pid not in known_places and pid not in place_rows:
                place_rows[pid] = place_row(
                    pid,
                    a["name"],
                    "airport",
                    a["country"],
                    icao=icao,
                    tz=a["tz"],
                    loc_icao=icao,
                    airport_name=a["name"],
                    lat=a["lat"],
                    lon=a["lon"],
                    location_basis="airport",
                    source_ids=None,
                    notes="added from observed flight records",
                )
            return pid
        if lat is None or lon is None:  # a leg's ends always have a fix (segment.py), named if not
            raise ValueError(f"observed leg end without a position and without an airport (icao {icao!r})")
        pid = f"pos-{lat:.2f}_{lon:.2f}"
        if pid not in place_rows:
            cc = geo.country_at(lat, lon)
            where = f" over {geo.country_name(cc)}" if cc else ""
            place_rows[pid] = place_row(
                pid,
                f"Unidentified position {lat:.2f}, {lon:.2f}{where}",
                "position",
                cc,
                tz="UTC",
                lat=lat,
                lon=lon,
                location_basis="position",
                source_ids=None,
                notes="observed fix with no airport within the matching radius"
                + ("; country from the position (Natural Earth 1:110m)" if cc else "; over no country"),
            )
        return pid

    windows = (
        reported.filter(pl.col("variant") == "main")
        .group_by("episode_id", "aircraft_id")
        .agg(
            pl.min_horizontal("arr_earliest_utc", "dep_earliest_utc").min().alias("t0"),
            pl.max_horizontal("arr_latest_utc", "dep_latest_utc").max().alias("t1"),
        )
    )
    new_episodes: list[dict] = []
    stops: list[dict] = []
    left_out = 0
    for aircraft_id, group in legs.group_by("aircraft_id", maintain_order=True):
        aircraft_id = aircraft_id[0]
        # the observed path keeps its own, longer break (a reported episode's aircraft may sit days at its
        # destination); discovery takes the break of the 'trip' row of interest_patterns.csv
        for trip in split_trips(group.to_dicts(), timedelta(days=TRIP_BREAK_DAYS)):
            t0 = trip[0]["first_seen_utc"]
            t1 = trip[-1]["last_seen_utc"]
            match = windows.filter(
                (pl.col("aircraft_id") == aircraft_id)
                & pl.col("t0").is_not_null()
                & (pl.col("t0") - MATCH_MARGIN <= t1)
                & (pl.col("t1") + MATCH_MARGIN >= t0)
            )
            pts = [place_for(trip[0]["dep_icao"], trip[0]["dep_lat"], trip[0]["dep_lon"])]
            pts += [place_for(leg["arr_icao"], leg["arr_lat"], leg["arr_lon"]) for leg in trip]
            countries = {place_rows.get(p, {}).get("country") or _country_of(places, p) for p in pts}
            trip_src = cited(";".join(leg.get("source_inputs") or "" for leg in trip))
            if match.height:
                episode_id = match["episode_id"][0]
            elif countries & region:
                episode_id = f"obs-{_slug(aircraft_id)}-{t0:%Y%m%d}"
                origin = (trip[0]["dep_lat"], trip[0]["dep_lon"])
                far = max(
                    range(1, len(pts)),
                    key=lambda i: geo.great_circle_km(
                        origin[0], origin[1], trip[i - 1]["arr_lat"], trip[i - 1]["arr_lon"]
                    ),
                )
                dest_country = place_rows.get(pts[far], {}).get("country") or _country_of(places, pts[far])
                new_episodes.append(
                    {
                        "episode_id": episode_id,
                        "title": f"Observed trip of {aircraft_id} from {t0:%d %b %Y}",
                        "destination_country": dest_country,
                        "destination_country_name": geo.country_name(dest_country),
                        "summary": f"Built from observed flight records only: {len(trip)} legs, "
                        f"{t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M} UTC (first and last airborne fix). "
                        "No reported episode matches.",
                        "source_ids": trip_src,
                        "notes": "observed",
                    }
                )
            else:
                left_out += 1
                seen = sorted(c for c in countries if c)
                excluded.append(
                    {
                        "kind": "trip",
                        "reason": "outside_region",
                        "icao24": trip[0]["icao24"],
                        "aircraft_id": aircraft_id,
                        "registration": trip[0]["registration"],
                        "first_utc": t0,
                        "last_utc": t1,
                        "n": len(trip),
                        "detail": f"{len(trip)} leg(s) via "
                        + (", ".join(seen) if seen else "no known country")
                        + " ("
                        + " > ".join(pts)
                        + ")",
                        "source_ids": trip_src,
                    }
                )
                continue
            far_i = max(
                range(len(pts)),
                key=lambda i: geo.great_circle_km(
                    trip[0]["dep_lat"], trip[0]["dep_lon"], *(_latlon(trip, i))
                ),
            )
            for i, pid in enumerate(pts):
                arr = trip[i - 1]["arr_time_utc"] if i > 0 else None
                dep = trip[i]["dep_time_utc"] if i < len(trip) else None
                role = (
                    "origin"
                    if i == 0
                    else "home"
                    if i == len(pts) - 1 and i > far_i
                    else "destination"
                    if i == far_i
                    else "staging"
                    if i < far_i
                    else "onward"
                )
                legs_here = [trip[j] for j in (i - 1, i) if 0 <= j < len(trip)]
                files = sorted({f for leg in legs_here for f in (leg["source_files"] or "").split(";") if f})
                inputs_here = {
                    n for leg in legs_here for n in (leg.get("source_inputs") or "").split(";") if n
                }
                block = []
                if i > 0 and trip[i - 1].get("on_block_utc"):
                    block.append(f"on block {trip[i - 1]['on_block_utc']:%Y-%m-%dT%H:%M:%SZ}")
                if i < len(trip) and trip[i].get("off_block_utc"):
                    block.append(f"off block {trip[i]['off_block_utc']:%Y-%m-%dT%H:%M:%SZ}")
                stops.append(
                    {
                        "stop_id": f"obs/{episode_id}/{aircraft_id}/{i + 1}",
                        "episode_id": episode_id,
                        "aircraft_id": aircraft_id,
                        "variant": "main",
                        "seq": i + 1,
                        "place_id": pid,
                        "role": role,
                        "arr_time": f"{arr:%Y-%m-%dT%H:%M:%SZ}" if arr else None,
                        "dep_time": f"{dep:%Y-%m-%dT%H:%M:%SZ}" if dep else None,
                        "is_inferred": False,
                        "source_ids": cited(";".join(inputs_here)),
                        "notes": (
                            f"observed in {', '.join(sorted(inputs_here))} ({', '.join(files)})"
                            if files
                            else "observed"
                        )
                        + (f"; {', '.join(block)}" if block else ""),
                        "arr_earliest_utc": arr,
                        "arr_latest_utc": arr + timedelta(seconds=1) if arr else None,
                        "arr_precision": "second" if arr else "unknown",
                        "arr_reported": None,
                        "dep_earliest_utc": dep,
                        "dep_latest_utc": dep + timedelta(seconds=1) if dep else None,
                        "dep_precision": "second" if dep else "unknown",
                        "dep_reported": None,
                        "evidence": "observed",
                    }
                )
    gaps = result.gaps
    if gaps.height:
        gaps = gaps.with_columns(
            pl.struct("icao24", "registration")
            .map_elements(lambda s: aircraft_of(s["icao24"], s["registration"]), return_dtype=pl.String)
            .alias("aircraft_id")
        )
        eps = (
            pl.DataFrame(stops)
            .group_by("episode_id", "aircraft_id")
            .agg(pl.col("dep_earliest_utc").min().alias("t0"), pl.col("arr_earliest_utc").max().alias("t1"))
            if stops
            else None
        )
        if eps is not None:
            gaps = gaps.join(eps, on="aircraft_id", how="inner").filter(
                (pl.col("start_utc") >= pl.col("t0")) & (pl.col("end_utc") <= pl.col("t1"))
            )
            gaps = gaps.select(list(GAPS_SCHEMA))
        else:
            gaps = pl.DataFrame(schema=GAPS_SCHEMA)
    else:
        gaps = pl.DataFrame(schema=GAPS_SCHEMA)
    notes = (
        [f"{left_out} observed trip(s) of watched aircraft outside the destination region left out"]
        if left_out
        else []
    )
    stop_df = (
        pl.DataFrame(
            stops,
            schema_overrides={
                k: UTC_TS
                for k in ("arr_earliest_utc", "arr_latest_utc", "dep_earliest_utc", "dep_latest_utc")
            },
        )
        if stops
        else pl.DataFrame()
    )
    return ObservedEvidence(
        stops=stop_df,
        gaps=gaps.cast(GAPS_SCHEMA),
        notes=notes,
        excluded=_excluded(excluded),
        sources=obs_sources,
        aircraft=pl.DataFrame(new_rows),
        places=pl.DataFrame(list(place_rows.values())),
        episodes=pl.DataFrame(new_episodes),
    )


def _excluded(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=EXCLUDED_SCHEMA)
    return pl.DataFrame([{k: r.get(k) for k in EXCLUDED_SCHEMA} for r in rows], schema=EXCLUDED_SCHEMA)


def _latlon(trip: list[dict], i: int) -> tuple[float, float]:
    return (
        (trip[0]["dep_lat"], trip[0]["dep_lon"])
        if i == 0
        else (trip[i - 1]["arr_lat"], trip[i - 1]["arr_lon"])
    )


def _country_of(places: pl.DataFrame, place_id: str) -> str | None:
    hit = places.filter(pl.col("place_id") == place_id)
    return hit["country"][0] if hit.height else None


def compare(stops: pl.DataFrame, legs: pl.DataFrame) -> pl.DataFrame:
    """Where an episode has both reported and observed routes of one aircraft: stop by stop, do they agree?

    A reported stop matches the observed stop at the same airport (or, for a city or country-only report,
    in the same country) nearest in time. ``status`` is ``agree`` (observed arrival inside the reported
    interval, or no reported time), ``time_differs`` (with ``arr_diff_h``: hours outside the interval),
    ``not_observed`` or ``not_reported``.
    """
    cols = steps.table_schema("out_observed_vs_reported")
    main = stops.filter(pl.col("is_main_variant"))
    both = (
        main.group_by("episode_id", "aircraft_id")
        .agg(pl.col("evidence").n_unique().alias("n"))
        .filter(pl.col("n") == 2)
    )
    out: list[dict] = []
    for ep, ac in both.select("episode_id", "aircraft_id").iter_rows():
        rep = (
            main.filter(
                (pl.col("episode_id") == ep)
                & (pl.col("aircraft_id") == ac)
                & (pl.col("evidence") == "reported")
            )
            .sort("seq")
            .to_dicts()
        )
        obs = (
            main.filter(
                (pl.col("episode_id") == ep)
                & (pl.col("aircraft_id") == ac)
                & (pl.col("evidence") == "observed")
            )
            .sort("seq")
            .to_dicts()
        )
        used: set[str] = set()
        for r in rep:
            cands = [
                o
                for o in obs
                if o["stop_id"] not in used
                and (
                    (r["loc_icao"] and r["place_precision"] == "airport" and o["loc_icao"] == r["loc_icao"])
                    or (r["place_precision"] != "airport" and o["country"] == r["country"])
                )
            ]
            ref = r["arr_earliest_utc"] or r["dep_earliest_utc"]
            if ref is not None:
                cands.sort(
                    key=lambda o: abs(
                        ((o["arr_earliest_utc"] or o["dep_earliest_utc"]) - ref).total_seconds()
                    )
                )
            if not cands:
                out.append(
                    {
                        "episode_id": ep,
                        "aircraft_id": ac,
                        "status": "not_observed",
                        "reported_stop_id": r["stop_id"],
                        "place": r["place_name"],
                        "reported_precision": r["arr_precision"],
                        "reported_arr_earliest_utc": r["arr_earliest_utc"],
                        "reported_arr_latest_utc": r["arr_latest_utc"],
                        "source_ids": r["source_ids"],
                    }
                )
                continue
            o = cands[0]
            used.add(o["stop_id"])
            diff = None
            status = "agree"
            if r["arr_earliest_utc"] is not None and o["arr_earliest_utc"] is not None:
                t = o["arr_earliest_utc"]
                if t < r["arr_earliest_utc"]:
                    diff = (t - r["arr_earliest_utc"]).total_seconds() / 3600
                elif t >= r["arr_latest_utc"]:
                    diff = (t - r["arr_latest_utc"]).total_seconds() / 3600
                status = "agree" if diff is None else "time_differs"
            out.append(
                {
                    "episode_id": ep,
                    "aircraft_id": ac,
                    "status": status,
                    "reported_stop_id": r["stop_id"],
                    "observed_stop_id": o["stop_id"],
                    "place": r["place_name"],
                    "reported_precision": r["arr_precision"],
                    "reported_arr_earliest_utc": r["arr_earliest_utc"],
                    "reported_arr_latest_utc": r["arr_latest_utc"],
                    "observed_arr_utc": o["arr_earliest_utc"],
                    "arr_diff_h": diff,
                    "source_ids": r["source_ids"],
                }
            )
        for o in obs:
            if o["stop_id"] not in used:
                out.append(
                    {
                        "episode_id": ep,
                        "aircraft_id": ac,
                        "status": "not_reported",
                        "observed_stop_id": o["stop_id"],
                        "place": o["place_name"],
                        "observed_arr_utc": o["arr_earliest_utc"],
                    }
                )
    return pl.DataFrame(out, schema=cols) if out else pl.DataFrame(schema=cols)
