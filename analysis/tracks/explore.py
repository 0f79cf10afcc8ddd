"""One aircraft's trace, for the analyst: positions, legs, gaps and two charts (``notebooks/observed.ipynb``).

>>> t = trace_of([(path, "readsb", {})], icao24="1510c2")      # doctest: +SKIP
>>> t.legs, t.gaps, t.noise, t.rejected                             # doctest: +SKIP
>>> track_map(t); altitude_profile(t)                               # doctest: +SKIP

With no real file at hand, ``synth.tracks.demo_input`` (the repository's generator, outside this package) writes a
generated trace with its truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from . import observed
from .segment import SegmentParams

__all__ = ["Trace", "trace_of", "track_map", "altitude_profile"]


@dataclass
class Trace:
    """One aircraft: ``positions`` (cleaned, time order, with ``leg_no`` where airborne in a leg),
    ``legs``/``gaps``/``stops`` (schemas in :mod:`analysis.tracks.segment`), ``noise`` (reason, n) and
    ``rejected`` candidate legs by reason."""

    icao24: str
    positions: pl.DataFrame
    legs: pl.DataFrame
    gaps: pl.DataFrame
    stops: pl.DataFrame
    noise: pl.DataFrame
    rejected: dict = field(default_factory=dict)


def trace_of(
    tracks,
    icao24: str | None = None,
    cache_dir="data/derived/tracks_cache",
    params: SegmentParams | None = None,
) -> Trace:
    """Run the observed path (:func:`analysis.tracks.observed`) on ``tracks`` for one aircraft (the first
    one with legs when ``icao24`` is None) and return its positions and segments."""
    watch = {icao24.lower()} if icao24 else None
    res = observed(tracks, watch_hex=watch, cache_dir=cache_dir, params=params, progress=False)
    if res.legs.is_empty():
        raise ValueError(f"no legs for {icao24 or 'any aircraft'} in {[str(t[0]) for t in tracks]}")
    hexa = icao24.lower() if icao24 else res.legs["icao24"][0]
    pos = pl.concat(
        [pl.read_parquet(p).filter(pl.col("icao24") == hexa) for p in res.positions_paths],
        how="vertical_relaxed",
    ).sort("time_utc")
    legs = res.legs.filter(pl.col("icao24") == hexa)
    pos = (
        pos.join_asof(
            legs.select("first_seen_utc", "last_seen_utc", "leg_no").sort("first_seen_utc"),
            left_on="time_utc",
            right_on="first_seen_utc",
            strategy="backward",
        )
        .with_columns(
            pl.when(pl.col("time_utc") <= pl.col("last_seen_utc")).then(pl.col("leg_no")).alias("leg_no")
        )
        .drop("first_seen_utc", "last_seen_utc")
    )
    return Trace(
        hexa,
        pos,
        legs,
        res.gaps.filter(pl.col("icao24") == hexa),
        res.stops.filter(pl.col("icao24") == hexa),
        res.noise,
        res.rejected,
    )


def _iso(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        [
            pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            for c, t in df.schema.items()
            if isinstance(t, pl.Datetime)
        ]
    )


def track_map(t: Trace, width: int = 760, height: int = 420):
    """The fixes on a world basemap, coloured by leg (grey: on the ground or outside any leg), with the
    departure and arrival points of each leg and the ends of each gap (dashed)."""
    import altair as alt

    from ..charts import basemap

    p = _iso(
        t.positions.select("time_utc", "lat", "lon", "alt_ft", "on_ground", "leg_no").with_columns(
            pl.col("leg_no").cast(pl.String).fill_null("ground / none").alias("leg")
        )
    )
    pad = 5
    lon_lo, lon_hi = float(p["lon"].min()), float(p["lon"].max())  # type: ignore[arg-type]
    lat_lo, lat_hi = float(p["lat"].min()), float(p["lat"].max())  # type: ignore[arg-type]
    fit = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "MultiPoint",
            "coordinates": [
                [x, y]
                for x in (max(-180, lon_lo - pad), min(180, lon_hi + pad))
                for y in (max(-85, lat_lo - pad), min(85, lat_hi + pad))
            ],
        },
    }
    world = alt.Chart(basemap()).mark_geoshape(fill="#e9e9e6", stroke="#ffffff", strokeWidth=0.5, clip=True)
    fixes = (
        alt.Chart(p)
        .mark_circle(size=6, clip=True)
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            color=alt.Color("leg:N", title="Leg"),
            tooltip=["time_utc:N", "alt_ft:Q", "on_ground:N", "leg:N"],
        )
    )
    ends = _iso(
        t.legs.select(
            "leg_no",
            "dep_icao",
            "arr_icao",
            "dep_lat",
            "dep_lon",
            "arr_lat",
            "arr_lon",
            "dep_time_utc",
            "arr_time_utc",
        )
    )
    deps = (
        alt.Chart(ends)
        .mark_point(shape="triangle-up", size=90, filled=True, color="#222", clip=True)
        .encode(
            longitude="dep_lon:Q", latitude="dep_lat:Q", tooltip=["leg_no:Q", "dep_icao:N", "dep_time_utc:N"]
        )
    )
    arrs = (
        alt.Chart(ends)
        .mark_point(shape="square", size=70, filled=True, color="#222", clip=True)
        .encode(
            longitude="arr_lon:Q", latitude="arr_lat:Q", tooltip=["leg_no:Q", "arr_icao:N", "arr_time_utc:N"]
        )
    )
    layers = [world, fixes, deps, arrs]
    if t.gaps.height:
        g = (
            _iso(t.gaps.with_row_index("gap"))
            .select(
                "gap",
                "start_utc",
                "end_utc",
                "duration_min",
                "jump_km",
                "is_implausible",
                pl.concat_list("start_lat", "end_lat").alias("lat"),
                pl.concat_list("start_lon", "end_lon").alias("lon"),
            )
            .explode("lat", "lon")
        )
        layers.append(
            alt.Chart(g)
            .mark_line(strokeDash=[4, 3], color="#b00", clip=True)
            .encode(
                longitude="lon:Q",
                latitude="lat:Q",
                detail="gap:N",
                tooltip=["start_utc:N", "end_utc:N", "duration_min:Q", "jump_km:Q", "is_implausible:N"],
            )
        )
    return alt.layer(*layers).properties(
        width=width,
        height=height,
        projection=alt.Projection(type="equalEarth", fit=fit),
        title=alt.Title(
            f"{t.icao24}: fixes by leg",
            subtitle="Triangles: departure points; squares: arrival points; dashed red: transponder gaps.",
        ),
    )


def altitude_profile(t: Trace, width: int = 760, height: int = 260):
    """Altitude over time (ground fixes at 0 ft), coloured by leg; shaded spans are the legs' airborne
    times, thin rules their block times (off block, on block)."""
    import altair as alt

    p = _iso(
        t.positions.select("time_utc", "alt_ft", "on_ground", "leg_no").with_columns(
            pl.when(pl.col("on_ground")).then(0.0).otherwise(pl.col("alt_ft")).alias("alt"),
            pl.col("leg_no").cast(pl.String).fill_null("ground / none").alias("leg"),
        )
    )
    line = (
        alt.Chart(p)
        .mark_circle(size=8)
        .encode(
            x=alt.X("time_utc:T", title="UTC"),
            y=alt.Y("alt:Q", title="Altitude (ft)"),
            color=alt.Color("leg:N", title="Leg"),
            tooltip=["time_utc:N", "alt:Q", "on_ground:N", "leg:N"],
        )
    )
    legs = _iso(
        t.legs.select(
            "leg_no",
            "first_seen_utc",
            "last_seen_utc",
            "off_block_utc",
            "on_block_utc",
            "dep_icao",
            "arr_icao",
        )
    )
    span = (
        alt.Chart(legs)
        .mark_rect(opacity=0.08, color="#333")
        .encode(x="first_seen_utc:T", x2="last_seen_utc:T", tooltip=["leg_no:Q", "dep_icao:N", "arr_icao:N"])
    )
    blocks = (
        alt.Chart(legs)
        .transform_fold(["off_block_utc", "on_block_utc"], as_=["block", "t"])
        .transform_filter("datum.t != null")
        .mark_rule(strokeDash=[2, 2], color="#555")
        .encode(x="t:T", tooltip=["block:N", "t:N"])
    )
    return alt.layer(span, blocks, line).properties(
        width=width, height=height, title=f"{t.icao24}: altitude profile"
    )
