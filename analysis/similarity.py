"""How alike two episodes' routes are.

Two measures, both from each episode's main routes (all aircraft, reported and observed):

* ``country_jaccard``: shared countries visited / all countries visited (0 = none shared, 1 = same set);
* ``mean_nearest_stop_km``: for every located stop of one route, the distance to the nearest located stop of
  the other, averaged both ways (a modified Hausdorff distance; 0 = the same places).

``similarity`` combines them: ``0.5 * country_jaccard + 0.5 * exp(-mean_nearest_stop_km / 1000)``.
"""

from __future__ import annotations

import itertools
import math

import polars as pl

from .geo import great_circle_km

__all__ = ["route_similarity", "mean_nearest_km"]


def mean_nearest_km(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float | None:
    """Symmetric mean nearest-neighbour great-circle distance between two point sets (None if one is empty)."""
    if not a or not b:
        return None

    def one_way(p, q):
        return sum(min(great_circle_km(*x, *y) for y in q) for x in p) / len(p)

    return (one_way(a, b) + one_way(b, a)) / 2


def route_similarity(stops: pl.DataFrame) -> pl.DataFrame:
    main = stops.filter(pl.col("is_main_variant"))
    episodes = sorted(main["episode_id"].unique().to_list())
    countries = {e: set(main.filter(pl.col("episode_id") == e)["country"].drop_nulls()) for e in episodes}
    points = {e: list({(r[0], r[1]) for r in main.filter((pl.col("episode_id") == e) & pl.col("lat").is_not_null())
                       .select("lat", "lon").iter_rows()}) for e in episodes}
    rows = []
    for a, b in itertools.combinations(episodes, 2):
        shared = countries[a] & countries[b]
        union = countries[a] | countries[b]
        jac = len(shared) / len(union) if union else None
        mnk = mean_nearest_km(points[a], points[b])
        sim = None if jac is None or mnk is None else 0.5 * jac + 0.5 * math.exp(-mnk / 1000)
        rows.append({"episode_a": a, "episode_b": b, "shared_countries": ";".join(sorted(shared)),
                     "shared_country_count": len(shared), "country_jaccard": jac, "mean_nearest_stop_km": mnk,
                     "similarity": sim})
    schema = {"episode_a": pl.String, "episode_b": pl.String, "shared_countries": pl.String,
              "shared_country_count": pl.Int64, "country_jaccard": pl.Float64, "mean_nearest_stop_km": pl.Float64,
              "similarity": pl.Float64}
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
