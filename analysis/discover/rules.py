"""Interest rules (data/raw/interest_*.csv plus the watchlist, aircraft and sanctions tables) and their
evaluation over segmented legs and gaps.

Two kinds of rule, both data:

* **aircraft rules** say which aircraft are of interest: a type designator (``interest_types``), a
  registration prefix (``interest_registrations``), an ICAO address block (``interest_hex_blocks``), an
  airframe of the study (``aircraft``, ``watchlist``) or one under sanctions, directly or through its
  operator (``sanctions``, ``operators``; an ADS-B owner/operator text naming a sanctioned operator).
* **trip patterns** (``interest_patterns``) say which trips of such an aircraft are candidates:
  ``landed_in_region`` / ``departed_region`` (a destination country of ``corridors.csv``), ``crossed_atlantic``,
  ``dark_over_ocean``. A *trip* is a run of legs of one aircraft with at most ``trip.max_stop_h``
  hours on the ground between them.

A candidate is a trip of an aircraft matching at least one aircraft rule and at least one pattern.
:func:`candidates` is a pure function of (legs, gaps, aircraft seen, rules, reported episodes), so both
discovery engines call it on their (identical) legs and gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .. import geo
from ..trips import TRIP_PATTERN, split_trips, study_region

__all__ = [
    "DiscoveryError",
    "Rules",
    "load_rules",
    "match_aircraft",
    "candidates",
    "crosses_meridian",
    "CANDIDATE_COLUMNS",
    "CANDIDATE_DESCRIPTIONS",
]

CANDIDATE_COLUMNS = [
    "candidate_id",
    "icao24",
    "registration",
    "type_code",
    "status",
    "episode_id",
    "known_basis",
    "first_seen_utc",
    "last_seen_utc",
    "n_legs",
    "leg_nos",
    "route",
    "countries",
    "region_countries",
    "patterns",
    "aircraft_rules",
    "rule_ids",
    "rule_source_ids",
    "evidence",
    "source_inputs",
    "source_members",
    "synthetic",
]

#: what each out_candidates column means (for the data dictionary and a Candidates page)
CANDIDATE_DESCRIPTIONS = {
    "candidate_id": "Stable id: aircraft hex and the trip's first fix (UTC, minute), e.g. 151c07-20251026T0030.",
    "icao24": "24-bit ICAO address of the aircraft (6 hex digits).",
    "registration": "Registration from the ADS-B data (readsb 'r'), else from the positions; null if none.",
    "type_code": "ICAO type designator from the ADS-B data (readsb 't'); null if none.",
    "status": "known: overlaps a reported episode of the same aircraft; new: no report covers it.",
    "episode_id": "The reported episode it overlaps (status known), else null.",
    "known_basis": "Why it counts as known (same aircraft and overlapping time, or same type and destination).",
    "first_seen_utc": "First airborne fix of the trip's first leg.",
    "last_seen_utc": "Last airborne fix of the trip's last leg.",
    "n_legs": "Observed legs in the trip (legs of one aircraft at most trip.max_stop_h apart).",
    "leg_nos": "';'-separated leg numbers of the aircraft in disc_legs / out_candidate_legs.",
    "route": "Departure and arrival airports in order ('(CC)' when only the country is known, '?' when neither).",
    "countries": "Countries of the observed departures and landings, in order.",
    "region_countries": "Destination countries (corridors.csv) where the trip landed or departed.",
    "patterns": "Matched trip patterns (interest_patterns.csv).",
    "aircraft_rules": "Aircraft rules the aircraft matched (rule ids of interest_*.csv, aircraft:, watchlist:, sanction:).",
    "rule_ids": "Every rule that made this a candidate: aircraft rules, region rules and patterns.",
    "rule_source_ids": "Sources (sources.csv) of those rules.",
    "evidence": "What was observed, in words: landings, crossings with latitude, dark gaps with times and places.",
    "source_inputs": "Archive file(s) the trip's positions came from (the track inputs, cited as sources).",
    "source_members": "Trace members inside the archive(s) (traces/<xx>/trace_full_<hex>.json).",
    "synthetic": "True when the trip was found in a generated demo day (synth.globalday): made-up "
    "aircraft and tracks, not a lead.",
}


class DiscoveryError(ValueError):
    """A discovery run that cannot be done as asked (a missing positions store, a bad Spark master, bad bucket
    counts...); the message names what was given and what was expected."""


@dataclass
class Rules:
    """Rules read from data/raw (see module docstring)."""

    types: dict[str, str]  # type_code -> rule_id
    reg_prefixes: list[tuple[str, str]]  # (PREFIX upper, rule_id)
    hex_blocks: list[tuple[int, int, str]]  # (start, end, rule_id)
    regions: dict[str, str]  # country -> rule_id
    params: dict[str, dict[str, float]]  # pattern_id -> parameters
    airframes_hex: dict[str, list[str]] = field(default_factory=dict)  # hex -> rule ids
    airframes_reg: dict[str, list[str]] = field(default_factory=dict)  # REG -> rule ids
    operator_names: dict[str, list[str]] = field(default_factory=dict)  # lower name -> sanction ids
    sources: dict[str, str] = field(default_factory=dict)  # rule id -> source ids

    def param(self, pattern: str, name: str) -> float:
        try:
            return self.params[pattern][name]
        except KeyError:
            raise KeyError(f"interest_patterns.csv: pattern {pattern!r} needs parameter {name!r}") from None


def load_rules(raw=None) -> Rules:
    """Read the rule tables from ``raw`` (a data/raw folder or a :class:`analysis.paths.Project`; default: the
    project's data/raw) the way a build reads every raw table: one read of data/raw
    (:func:`analysis.provenance.snapshot`), checked against the provenance records (a table changed since its
    review raises :class:`analysis.provenance.ProvenanceError` naming it), then the tables parsed from those same
    bytes and validated by :func:`analysis.validate.load_raw`.

    Validation is the one ``make validate`` runs: a parameter that is missing, unknown, repeated, not a finite number
    or out of range, bounds in the wrong order, an address block whose end is below its start... raise
    :class:`analysis.validate.RawValidationError` naming the file, line and field, instead of silently disabling a
    pattern. The region is :func:`analysis.trips.study_region`, the one the observed path uses.
    """
    from .. import provenance
    from ..paths import Project, default_project
    from ..validate import load_raw, parse_parameters

    if raw is None:
        raw = default_project().raw
    elif isinstance(raw, Project):
        raw = raw.raw
    raw = Path(raw)
    if not raw.is_dir():
        raise FileNotFoundError(
            f"{raw}: expected the study's data/raw folder with the rule tables "
            "(data/raw/interest_*.csv, see analysis/schema.py), got nothing there"
        )
    snap = provenance.snapshot(raw)
    snap.check()
    tables = load_raw(raw, data=snap.tables)
    src: dict[str, str] = {}
    types = {}
    for r in tables["interest_types"].iter_rows(named=True):
        types[r["type_code"].strip().upper()] = r["rule_id"]
        src[r["rule_id"]] = r["source_ids"] or ""
    regs = []
    for r in tables["interest_registrations"].iter_rows(named=True):
        regs.append((r["prefix"].strip().upper(), r["rule_id"]))
        src[r["rule_id"]] = r["source_ids"] or ""
    blocks = []
    for r in tables["interest_hex_blocks"].iter_rows(named=True):
        blocks.append((int(r["start_hex"], 16), int(r["end_hex"], 16), r["rule_id"]))
        src[r["rule_id"]] = r["source_ids"] or ""
    # the region: the study's destination areas (corridors.csv, role destination), the one definition that
    # observed trips and findings use too (analysis.trips.study_region); each is cited as rule corridors:<country>
    regions = {}
    region = study_region(tables["corridors"])
    for r in tables["corridors"].iter_rows(named=True):
        if r["role"] == "destination" and r["area"] in region:  # the last row of an area cites its sources
            regions[r["area"]] = f"corridors:{r['area']}"
            src[regions[r["area"]]] = r["source_ids"] or ""
    params: dict[str, dict[str, float]] = {}
    for r in tables["interest_patterns"].iter_rows(named=True):
        params[r["pattern_id"]] = parse_parameters(r["parameters"], r["pattern_id"])[0]  # validated above
    # airframes: the study's aircraft, the watchlist, sanctions (direct or through the operator)
    ac, wl, sa, ops = (tables[n] for n in ("aircraft", "watchlist", "sanctions", "operators"))
    by_hex: dict[str, list[str]] = {}
    by_reg: dict[str, list[str]] = {}

    def add(h, reg, rid, sources):
        if h:
            by_hex.setdefault(h.lower(), []).append(rid)
        if reg:
            by_reg.setdefault(reg.upper(), []).append(rid)
        src[rid] = sources or ""

    sanc_ac: dict[str, list[dict]] = {}
    sanc_op: dict[str, list[dict]] = {}
    for r in sa.iter_rows(named=True):
        if r["target_table"] == "aircraft":
            sanc_ac.setdefault(r["target_id"], []).append(r)
        elif r["target_table"] == "operators":
            sanc_op.setdefault(r["target_id"], []).append(r)
    for r in ac.iter_rows(named=True):
        add(r["icao_hex"], r["registration"], f"aircraft:{r['aircraft_id']}", r["source_ids"])
        for s in sanc_ac.get(r["aircraft_id"], []) + sanc_op.get(r["operator_id"], []):
            add(r["icao_hex"], r["registration"], f"sanction:{s['sanction_id']}", s["source_ids"])
    for r in wl.iter_rows(named=True):
        add(r["icao_hex"], r["registration"], f"watchlist:{r['watch_id']}", r["source_ids"])
    op_names: dict[str, list[str]] = {}
    for r in ops.iter_rows(named=True):
        for s in sanc_op.get(r["operator_id"], []):
            op_names.setdefault(r["name"].lower(), []).append(f"sanction:{s['sanction_id']}")
            src[f"sanction:{s['sanction_id']}"] = s["source_ids"] or ""
    for k in by_hex:
        by_hex[k] = sorted(set(by_hex[k]))
    for k in by_reg:
        by_reg[k] = sorted(set(by_reg[k]))
    return Rules(types, regs, blocks, regions, params, by_hex, by_reg, op_names, src)


def _hex_int(h: str) -> int:
    return (int(h[1:], 16) | (1 << 24)) if h.startswith("~") else int(h, 16)


def match_aircraft(aircraft: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Aircraft seen (columns icao24, registration, type_code, owner_operator) -> the ones of interest:
    icao24, registration, type_code, aircraft_rules (';'-joined rule ids, sorted)."""
    if aircraft.is_empty():
        return pl.DataFrame(
            schema={
                "icao24": pl.String,
                "registration": pl.String,
                "type_code": pl.String,
                "aircraft_rules": pl.String,
            }
        )
    per = aircraft.group_by("icao24").agg(
        pl.col("registration").drop_nulls().sort().first(),
        pl.col("type_code").drop_nulls().sort().first(),
        pl.col("owner_operator").drop_nulls().sort().first(),
    )
    rows = []
    for r in per.iter_rows(named=True):
        hits = set()
        h, reg, typ, own = r["icao24"], r["registration"], r["type_code"], r["owner_operator"]
        if typ and typ.upper() in rules.types:
            hits.add(rules.types[typ.upper()])
        if reg:
            for pre, rid in rules.reg_prefixes:
                if reg.upper().startswith(pre):
                    hits.add(rid)
            hits.update(rules.airframes_reg.get(reg.upper(), []))
        if not h.startswith("~"):
            v = _hex_int(h)
            for a, b, rid in rules.hex_blocks:
                if a <= v <= b:
                    hits.add(rid)
        hits.update(rules.airframes_hex.get(h, []))
        if own:
            low = own.lower()
            for name, rids in rules.operator_names.items():
                if name in low:
                    hits.update(rids)
        if hits:
            rows.append(
                {"icao24": h, "registration": reg, "type_code": typ, "aircraft_rules": ";".join(sorted(hits))}
            )
    return pl.DataFrame(
        rows,
        schema={
            "icao24": pl.String,
            "registration": pl.String,
            "type_code": pl.String,
            "aircraft_rules": pl.String,
        },
    ).sort("icao24")


def crosses_meridian(lat1, lon1, lat2, lon2, meridian: float, lat_min: float, lat_max: float) -> float | None:
    """Latitude where the great circle from point 1 to point 2 crosses ``meridian`` within
    [lat_min, lat_max], or None.

    >>> round(crosses_meridian(55.97, 37.41, 10.60, -66.99, -30, -60, 70))  # Moscow -> Caracas
    48
    >>> crosses_meridian(53.0, 158.0, 19.4, -99.1, -30, -60, 70) is None  # Kamchatka -> Mexico
    True
    """
    pts = geo.great_circle_points(lat1, lon1, lat2, lon2, n=96)
    prev = None
    for la, lo in pts:
        d = (lo - meridian + 180.0) % 360.0 - 180.0
        if prev is not None:
            pla, pd = prev
            if (pd < 0) != (d < 0) and abs(d - pd) < 90:  # a real crossing, not the wrap at the antipode
                f = pd / (pd - d) if pd != d else 0.0
                lat = pla + f * (la - pla)
                if lat_min <= lat <= lat_max:
                    return lat
        prev = (la, d)
    return None


def _country_of(icao, lat, lon, on_ground) -> str | None:
    if icao:
        a = geo.airport(icao)
        if a:
            return a["country"]
    if on_ground and lat is not None and not math.isnan(lat):
        return geo.countries_at([lat], [lon])[0]
    return None


def _fmt_t(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ") if t is not None else "?"


def _reported(episodes: pl.DataFrame | None) -> list[dict]:
    return [] if episodes is None or episodes.is_empty() else episodes.to_dicts()


def candidates(
    legs: pl.DataFrame,
    gaps: pl.DataFrame,
    aircraft: pl.DataFrame,
    rules: Rules,
    reported: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the rules. Returns (out_candidates, out_candidate_legs).

    ``aircraft``: aircraft seen (archive metadata: icao24, registration, type_code, owner_operator,
    first_utc, last_utc, source_input, source_member). ``reported``: reported windows from
    :func:`analysis.discover.reported_windows` (episode_id, registration, icao_hex, type_code,
    destination, start_utc, end_utc) or None.
    """
    interest = match_aircraft(aircraft, rules)
    max_break = timedelta(hours=rules.param(TRIP_PATTERN, "max_stop_h"))
    mer = rules.param("crossed_atlantic", "meridian_lon")
    lat_min = rules.param("crossed_atlantic", "lat_min")
    lat_max = rules.param("crossed_atlantic", "lat_max")
    min_gap = rules.param("dark_over_ocean", "min_gap_min")
    ileg = legs.join(
        interest.select(
            "icao24",
            "aircraft_rules",
            pl.col("type_code").alias("_type"),
            pl.col("registration").alias("_reg"),
        ),
        on="icao24",
        how="inner",
    )
    ileg = ileg.sort("icao24", "leg_no")
    igap = gaps.join(interest.select("icao24"), on="icao24", how="inner").sort("icao24", "start_utc")
    # dark-over-ocean gaps: all three points at sea
    dark = igap.filter(pl.col("duration_min") >= min_gap)
    if not dark.is_empty():
        mids = [
            geo.great_circle_points(a, b, c, d, n=3)[1]
            for a, b, c, d in dark.select("start_lat", "start_lon", "end_lat", "end_lon").iter_rows()
        ]
        cs = geo.countries_at(dark["start_lat"].to_numpy(), dark["start_lon"].to_numpy())
        ce = geo.countries_at(dark["end_lat"].to_numpy(), dark["end_lon"].to_numpy())
        cm = geo.countries_at([m[0] for m in mids], [m[1] for m in mids])
        sea = np.array(
            [a is None and b is None and c is None for a, b, c in zip(cs, ce, cm, strict=True)], bool
        )
        dark = dark.filter(pl.Series(sea))
    dark_by = {k[0]: g for k, g in dark.group_by("icao24")} if not dark.is_empty() else {}
    srcs = aircraft.select("icao24", "first_utc", "last_utc", "source_input", "source_member")
    src_by = {k[0]: g for k, g in srcs.group_by("icao24")} if not srcs.is_empty() else {}
    reported_rows = _reported(reported)
    out, out_legs = [], []
    for (h,), g in ileg.group_by("icao24", maintain_order=True):
        trips = split_trips(g.to_dicts(), max_break)
        for trip in trips:
            t0, t1 = trip[0]["first_seen_utc"], trip[-1]["last_seen_utc"]
            pats: set[str] = set()
            rids: set[str] = set()
            ev: list[str] = []
            countries: list[str] = []
            regc: set[str] = set()
            route: list[str] = []
            for i, lg in enumerate(trip):
                dep_g = bool(lg["is_takeoff_observed"]) or lg["dep_icao"] is not None
                arr_g = bool(lg["is_landing_observed"]) or lg["arr_icao"] is not None
                dc = _country_of(lg["dep_icao"], lg["dep_lat"], lg["dep_lon"], dep_g) if dep_g else None
                ac = _country_of(lg["arr_icao"], lg["arr_lat"], lg["arr_lon"], arr_g) if arr_g else None
                if i == 0:
                    route.append(lg["dep_icao"] or (dc and f"({dc})") or "?")
                route.append(lg["arr_icao"] or (ac and f"({ac})") or "?")
                for c in (dc, ac):
                    if c and (not countries or countries[-1] != c):
                        countries.append(c)
                if dc in rules.regions:
                    pats.add("departed_region")
                    rids.add(rules.regions[dc])
                    regc.add(dc)
                    ev.append(
                        f"leg {lg['leg_no']} departed {lg['dep_icao'] or '?'} ({dc}) {_fmt_t(lg['first_seen_utc'])}"
                    )
                if ac in rules.regions:
                    pats.add("landed_in_region")
                    rids.add(rules.regions[ac])
                    regc.add(ac)
                    ev.append(
                        f"leg {lg['leg_no']} landed {lg['arr_icao'] or '?'} ({ac}) {_fmt_t(lg['last_seen_utc'])}"
                    )
            # ocean crossing: each leg's departure -> arrival, and each arrival -> next departure
            pts = []
            for lg in trip:
                pts.append((lg["dep_lat"], lg["dep_lon"], lg["leg_no"], "dep"))
                pts.append((lg["arr_lat"], lg["arr_lon"], lg["leg_no"], "arr"))
            for a, b in zip(pts[:-1], pts[1:], strict=True):
                lat = crosses_meridian(a[0], a[1], b[0], b[1], mer, lat_min, lat_max)
                if lat is not None:
                    pats.add("crossed_atlantic")
                    where = f"leg {a[2]}" if a[2] == b[2] else f"between legs {a[2]} and {b[2]}"
                    ev.append(
                        f"{where} crossed {abs(mer):g}{'W' if mer < 0 else 'E'} at {lat:.1f}{'N' if lat >= 0 else 'S'}"
                    )
            dg = dark_by.get(h)
            if dg is not None:
                win = dg.filter((pl.col("start_utc") >= t0) & (pl.col("end_utc") <= t1))
                for gr in win.iter_rows(named=True):
                    pats.add("dark_over_ocean")
                    ev.append(
                        f"dark {gr['duration_min']:.0f} min over the sea from {_fmt_t(gr['start_utc'])} "
                        f"({gr['start_lat']:.1f}, {gr['start_lon']:.1f}) to ({gr['end_lat']:.1f}, {gr['end_lon']:.1f})"
                    )
            if not pats:
                continue
            a_rules = trip[0]["aircraft_rules"]
            all_rules = sorted(set(a_rules.split(";")) | rids | pats)
            rule_src = sorted({s for r in all_rules for s in rules.sources.get(r, "").split(";") if s})
            sg = src_by.get(h)
            members, inputs = [], []
            if sg is not None:
                ov = sg.filter((pl.col("first_utc") <= t1) & (pl.col("last_utc") >= t0))
                members = sorted(set(ov["source_member"].drop_nulls().to_list()))
                inputs = sorted(set(ov["source_input"].drop_nulls().to_list()))
            reg = trip[0]["_reg"] or trip[0]["registration"]
            typ = trip[0]["_type"]
            status, ep, basis = "new", None, None
            for rep in reported_rows:
                if not (rep["start_utc"] <= t1 and rep["end_utc"] >= t0):
                    continue
                if (rep.get("icao_hex") and rep["icao_hex"] == h) or (
                    rep.get("registration") and reg and rep["registration"].upper() == reg.upper()
                ):
                    status, ep, basis = "known", rep["episode_id"], "same aircraft, overlapping time"
                    break
                if (
                    not rep.get("registration")
                    and not rep.get("icao_hex")
                    and typ
                    and rep.get("type_code")
                    and rep["type_code"].upper() == typ.upper()
                    and rep.get("destination") in regc
                ):
                    status, ep, basis = (
                        "known",
                        rep["episode_id"],
                        "unidentified airframe of the same type, same destination, overlapping time",
                    )
            cid = f"{h}-{t0.strftime('%Y%m%dT%H%M')}"
            out.append(
                {
                    "candidate_id": cid,
                    "icao24": h,
                    "registration": reg,
                    "type_code": typ,
                    "status": status,
                    "episode_id": ep,
                    "known_basis": basis,
                    "first_seen_utc": t0,
                    "last_seen_utc": t1,
                    "n_legs": len(trip),
                    "leg_nos": ";".join(str(lg["leg_no"]) for lg in trip),
                    "route": " > ".join(route),
                    "countries": ";".join(countries),
                    "region_countries": ";".join(sorted(regc)),
                    "patterns": ";".join(sorted(pats)),
                    "aircraft_rules": a_rules,
                    "rule_ids": ";".join(all_rules),
                    "rule_source_ids": ";".join(rule_src),
                    "evidence": "; ".join(ev),
                    "source_inputs": ";".join(inputs),
                    "source_members": ";".join(members),
                    "synthetic": False,  # set by discover() for trips found in a generated demo day
                }
            )
            for lg in trip:
                out_legs.append(
                    {"candidate_id": cid, **{k: v for k, v in lg.items() if not k.startswith("_")}}
                )
    schema: dict[str, Any] = {c: pl.String for c in CANDIDATE_COLUMNS} | {
        "first_seen_utc": pl.Datetime("us", "UTC"),
        "last_seen_utc": pl.Datetime("us", "UTC"),
        "n_legs": pl.Int64,
        "synthetic": pl.Boolean,
    }
    cand = pl.DataFrame(out, schema=schema).sort("candidate_id")
    leg_schema = {"candidate_id": pl.String} | dict(legs.schema) | {"aircraft_rules": pl.String}
    cl = pl.DataFrame(out_legs, schema=leg_schema) if out_legs else pl.DataFrame(schema=leg_schema)
    return cand, cl.sort("candidate_id", "leg_no")
