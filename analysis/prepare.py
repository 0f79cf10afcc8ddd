"""Step functions that turn validated raw tables into the core tables the SQL steps build on.

Each public function here is the code of one step of :data:`analysis.steps.STEPS`: it takes the step's inputs
(a mapping of declared input tables: ``raw.<name>`` for a parsed data/raw table, else a table an earlier step
made) and returns the step's output table. None of them changes its inputs. :func:`place_row` is the one place
a row of ``core_places`` is assembled (reported places here, places of observed fixes in :mod:`analysis.observed`).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from . import geo, steps
from .timespec import parse

__all__ = ["UTC_TS", "place_row", "union", "PLACE_SCHEMA"]

UTC_TS = pl.Datetime("us", "UTC")
Inputs = Mapping[str, pl.DataFrame]
#: columns of a place whose type cannot be inferred from the rows alone (all may be null)
PLACE_SCHEMA = pl.Schema(
    {
        "lat": pl.Float64(),
        "lon": pl.Float64(),
        "loc_closed_reported": pl.String(),
        "loc_closed_utc": UTC_TS,
        "country": pl.String(),
        "country_name": pl.String(),
        "country_numeric": pl.String(),
    }
)


def _raw(t: Inputs, name: str) -> pl.DataFrame:
    """A raw table without the validator's line numbers."""
    return t[f"raw.{name}"].drop("_line")


def _intervals(df: pl.DataFrame, col: str, tzs: list[str | None], prefix: str) -> pl.DataFrame:
    specs = [parse(v, tz) for v, tz in zip(df[col].to_list(), tzs, strict=True)]
    return df.with_columns(
        pl.Series(f"{prefix}_earliest_utc", [s.earliest for s in specs], dtype=UTC_TS),
        pl.Series(f"{prefix}_latest_utc", [s.latest for s in specs], dtype=UTC_TS),
        pl.Series(f"{prefix}_precision", [s.precision for s in specs], dtype=pl.String),
        pl.Series(f"{prefix}_reported", [s.text or None for s in specs], dtype=pl.String),
    )


def _no_tz(df: pl.DataFrame, col: str, prefix: str) -> pl.DataFrame:
    return _intervals(df, col, [None] * df.height, prefix)


def _country_name(col: str = "country", alias: str = "country_name") -> pl.Expr:
    return pl.col(col).map_elements(geo.country_name, return_dtype=pl.String).alias(alias)


def union(first: pl.DataFrame, then: pl.DataFrame) -> pl.DataFrame:
    """``first``'s rows, then ``then``'s (columns matched by name, types widened): how a reported table and its
    observed counterpart become one table. An empty ``then`` leaves ``first`` as it is."""
    return pl.concat([first, then], how="diagonal_relaxed") if then.height else first


def place_row(
    place_id: str,
    name: str | None,
    precision: str | None,
    country: str | None,
    *,
    icao: str | None = None,
    tz: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    loc_icao: str | None = None,
    airport_name: str | None = None,
    location_basis: str | None = None,
    **rest: object,
) -> dict:
    """One row of ``core_places``: the place as reported (or observed) with the location used for maps and
    distances; ``rest`` holds the other columns (inference, closure, sources, notes)."""
    return {
        "place_id": place_id,
        "name": name,
        "precision": precision,
        "icao": icao,
        "country": country,
        "country_name": geo.country_name(country),
        "country_numeric": geo.country_numeric(country),
        "tz": tz,
        **{k: rest.pop(k) for k in ("inferred_icao", "inference_basis") if k in rest},
        "loc_icao": loc_icao,
        "airport_name": airport_name,
        "lat": lat,
        "lon": lon,
        "location_basis": location_basis,
        **rest,
    }


# --- one function per step ---------------------------------------------------------------------------------------


def places(t: Inputs) -> pl.DataFrame:
    """Reported places, located: a cited location (places rows with icao, lat and lon: airports airportsdata
    lacks), else the airport of the reported or inferred ICAO code."""
    rows = []
    raw = t["raw.places"].to_dicts()
    sourced = {
        p["icao"]: {"name": p["name"], "lat": p["lat"], "lon": p["lon"], "tz": p["tz"]}
        for p in raw
        if p["icao"] and p["lat"] is not None
    }
    closed = {p["icao"]: parse(p["closed"], None) for p in raw if p["icao"] and p["closed"]}
    for p in raw:
        code = p["icao"] or p["inferred_icao"]
        a = sourced.get(code) or geo.airport(code)
        basis = None if a is None else ("airport" if p["icao"] else "inferred")
        shut = closed.get(code) if a else None
        rows.append(
            place_row(
                p["place_id"],
                p["name"],
                p["precision"],
                p["country"],
                icao=p["icao"],
                tz=p["tz"] or (a["tz"] if a else None),
                inferred_icao=p["inferred_icao"],
                inference_basis=p["inference_basis"],
                loc_icao=code if a else None,
                airport_name=a["name"] if a else None,
                lat=a["lat"] if a else None,
                lon=a["lon"] if a else None,
                location_basis=basis,
                is_sourced_location=bool(a) and code in sourced,
                loc_closed_reported=shut.text if shut else None,
                loc_closed_utc=shut.earliest if shut else None,
                source_ids=p["source_ids"],
                notes=p["notes"],
            )
        )
    return pl.DataFrame(rows, schema_overrides=PLACE_SCHEMA, infer_schema_length=None)


def sources(t: Inputs) -> pl.DataFrame:
    """The bibliography with publication intervals and ``origin_id``: the independent origin of each source
    (follow relays_source_id to its root, then take the root's ``origin`` or its own id)."""
    src = _no_tz(_raw(t, "sources"), "published", "published")
    relays = dict(zip(src["source_id"], src["relays_source_id"], strict=True))
    origin = dict(zip(src["source_id"], src["origin"], strict=True))

    def root(sid: str) -> str:
        seen = {sid}
        while relays.get(sid) and relays[sid] not in seen:
            sid = relays[sid]
            seen.add(sid)
        return origin.get(sid) or sid

    return src.with_columns(pl.Series("origin_id", [root(s) for s in src["source_id"]], dtype=pl.String))


def all_sources(t: Inputs) -> pl.DataFrame:
    """Reported sources, then the track inputs cited as sources (their own origins)."""
    return union(t["prep_sources"], t["obs_sources"]).with_columns(
        pl.coalesce("origin_id", "source_id").alias("origin_id")
    )


def operators(t: Inputs) -> pl.DataFrame:
    return _raw(t, "operators").with_columns(_country_name())


def aircraft_types(t: Inputs) -> pl.DataFrame:
    return _raw(t, "aircraft_types")


def type_ranges(t: Inputs) -> pl.DataFrame:
    return _raw(t, "type_ranges").join(
        t["raw.aircraft_types"].select("type_id", pl.col("name").alias("type_name")), on="type_id", how="left"
    )


def corridors(t: Inputs) -> pl.DataFrame:
    return _raw(t, "corridors")


def aircraft(t: Inputs) -> pl.DataFrame:
    """Airframes with their type's figures and their operator's name; ``label`` for charts."""
    return (
        _raw(t, "aircraft")
        .join(
            t["raw.aircraft_types"].select(
                "type_id",
                pl.col("name").alias("type_name"),
                "icao_type",
                "role",
                "max_payload_t",
                "max_passengers",
                "range_km",
                pl.col("source_ids").alias("type_source_ids"),
            ),
            on="type_id",
            how="left",
        )
        .join(
            t["raw.operators"].select("operator_id", pl.col("name").alias("operator_name")),
            on="operator_id",
            how="left",
        )
        .with_columns(pl.coalesce("registration", "name", "aircraft_id").alias("label"))
    )


def all_aircraft(t: Inputs) -> pl.DataFrame:
    """Reported airframes, then watched aircraft seen only in observed flight records."""
    return union(t["prep_aircraft"], t["obs_aircraft"])


def sanctions(t: Inputs) -> pl.DataFrame:
    """Sanctions with the target's display label (reported aircraft or operator) and the effective interval."""
    ac = t["prep_aircraft"]
    labels = dict(zip(ac["aircraft_id"], ac["label"], strict=True))
    labels |= dict(zip(t["raw.operators"]["operator_id"], t["raw.operators"]["name"], strict=True))
    df = _raw(t, "sanctions").with_columns(
        pl.col("target_id").replace_strict(labels, default=pl.col("target_id")).alias("target_label"),
        _country_name("authority_country", "authority_country_name"),
    )
    return _no_tz(df, "effective", "effective")


def all_places(t: Inputs) -> pl.DataFrame:
    """Reported places, then the airports and positions of observed fixes that no reported place names."""
    return union(t["prep_places"], t["obs_places"])


def episodes(t: Inputs) -> pl.DataFrame:
    return _raw(t, "episodes").with_columns(_country_name("destination_country", "destination_country_name"))


def all_episodes(t: Inputs) -> pl.DataFrame:
    """Reported episodes, then observed trips that match none."""
    return union(t["prep_episodes"], t["obs_episodes"])


def events(t: Inputs) -> pl.DataFrame:
    ev = _raw(t, "events")
    tzs = ev["tz"].to_list()
    ev = _intervals(
        _intervals(_intervals(ev, "start", tzs, "start"), "end", tzs, "end"),
        "reported_on",
        tzs,
        "reported_on",
    )
    return ev.with_columns(_country_name())


def claims(t: Inputs) -> pl.DataFrame:
    return _raw(t, "claims")


def conflicts(t: Inputs) -> pl.DataFrame:
    """Every side of every disagreement, with the conflict's own fields."""
    return (
        _raw(t, "conflict_positions")
        .join(_raw(t, "conflicts").rename({"notes": "conflict_notes"}), on="conflict_id", how="left")
        .with_columns(
            (pl.col("position_id") == pl.col("working_position"))
            .fill_null(False)
            .alias("is_working_position")
        )
        .select(
            "conflict_id",
            "episode_id",
            "topic",
            "summary",
            "position_id",
            "claim",
            "value",
            "variant",
            "record_ids",
            "source_ids",
            "is_working_position",
            "working_position",
            "working_reason",
            "conflict_notes",
        )
    )


def watchlist(t: Inputs) -> pl.DataFrame:
    return _raw(t, "watchlist")


def host_statements(t: Inputs) -> pl.DataFrame:
    return _no_tz(_raw(t, "host_statements"), "made_on", "made_on").with_columns(_country_name())


def loads(t: Inputs) -> pl.DataFrame:
    """What each episode carried, who it carried and why, as claimed: one place for the payload analysis."""
    return (
        _raw(t, "claims")
        .filter(pl.col("kind").is_in(["cargo", "personnel", "person_aboard", "equipment", "purpose"]))
        .select(
            "claim_id",
            "episode_id",
            "aircraft_id",
            "aircraft_ids",
            pl.col("kind").alias("load_kind"),
            "subject",
            "quantity",
            "unit",
            "qualifier",
            "claimant",
            "verification",
            "source_ids",
        )
    )


def study(t: Inputs) -> pl.DataFrame:
    return _raw(t, "study")


def systems(t: Inputs) -> pl.DataFrame:
    return _raw(t, "systems")


def cargo_items(t: Inputs) -> pl.DataFrame:
    return _raw(t, "cargo_items").join(
        t["raw.systems"].select(
            "system_id",
            pl.col("name").alias("system_name"),
            "mass_t",
            "mass_qualifier",
            "length_m",
            "width_m",
            "height_m",
            pl.col("source_ids").alias("system_source_ids"),
        ),
        on="system_id",
        how="left",
    )


def census_criteria(t: Inputs) -> pl.DataFrame:
    return _raw(t, "census_criteria")


def census_excluded(t: Inputs) -> pl.DataFrame:
    return _no_tz(_raw(t, "census_excluded"), "when", "when")


def census_log(t: Inputs) -> pl.DataFrame:
    return _raw(t, "census_log")


def reported_stops(t: Inputs) -> pl.DataFrame:
    """Reported stops with arrival, departure and reported-on intervals, read in the place's time zone."""
    stops = _raw(t, "stops")
    pl_ = t["prep_places"]
    tz_by_place = dict(zip(pl_["place_id"], pl_["tz"], strict=True))
    tzs = [tz_by_place.get(p) for p in stops["place_id"].to_list()]
    stops = _intervals(
        _intervals(_intervals(stops, "arr_time", tzs, "arr"), "dep_time", tzs, "dep"),
        "reported_on",
        tzs,
        "reported_on",
    ).with_columns(pl.col("order_basis").fill_null("reported"))
    return stops.with_columns(pl.lit("reported").alias("evidence"))


def all_stops(t: Inputs) -> pl.DataFrame:
    """Reported stops, then observed ones (the rows core_stops locates)."""
    return union(t["prep_stops"], t["obs_stops"])


def leg_paths(t: Inputs, n: int = 48) -> pl.DataFrame:
    """Points along each located leg's great circle, for drawing arcs on maps."""
    rows = []
    for leg in t["core_legs"].filter(pl.col("distance_km").is_not_null()).iter_rows(named=True):
        pts = geo.great_circle_points(leg["from_lat"], leg["from_lon"], leg["to_lat"], leg["to_lon"], n)
        for i, (lat, lon) in enumerate(pts):
            rows.append(
                (
                    leg["leg_id"],
                    leg["episode_id"],
                    leg["aircraft_id"],
                    leg["variant"],
                    leg["evidence"],
                    leg["leg_seq"],
                    i,
                    lat,
                    lon,
                    leg["distance_basis"],
                )
            )
    return pl.DataFrame(
        rows,
        orient="row",
        schema=steps.table_schema("core_leg_paths"),
    )


def route_similarity(t: Inputs) -> pl.DataFrame:
    from . import similarity

    return similarity.route_similarity(t["core_stops"], t["core_corridors"])


def observed_vs_reported(t: Inputs) -> pl.DataFrame:
    from . import observed

    return observed.compare(t["core_stops"], t["core_legs"])


def findings(t: Inputs) -> pl.DataFrame:
    from . import findings as f

    return f.compute(dict(t))


def summary(t: Inputs) -> pl.DataFrame:
    from . import findings as f

    return f.summarize(t["out_findings"], dict(t))
