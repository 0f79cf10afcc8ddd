"""Cross-episode findings, computed from the derived tables, never typed in.

Each finding is a row: a ``statement`` written from the numbers, the ``metric`` and its ``value`` (with
``value_low``/``value_high`` where the evidence allows a range), the ``episode_ids`` it concerns, the
``evidence`` rows behind it (``table:id``) and their ``source_ids``, and a ``confidence``:

* ``high``: every evidence row located at airport precision and cited by at least one primary source;
* ``medium``: it rests on inferred places or day-level times;
* ``low``: only secondary (rewritten or relayed) sources support it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import polars as pl

__all__ = ["compute", "FINDINGS_SCHEMA"]

FINDINGS_SCHEMA = {
    "finding_id": pl.String, "category": pl.String, "title": pl.String, "statement": pl.String,
    "metric": pl.String, "value": pl.Float64, "value_low": pl.Float64, "value_high": pl.Float64,
    "unit": pl.String, "episode_ids": pl.String, "evidence": pl.String, "source_ids": pl.String,
    "confidence": pl.String,
}


def _ids(values: Iterable[str | None]) -> str:
    out: list[str] = []
    for v in values:
        for part in (v or "").split(";"):
            if part and part not in out:
                out.append(part)
    return ";".join(out)


def _date(t: datetime | None) -> str:
    return "an unknown date" if t is None else f"{t:%d %b %Y}".lstrip("0")


class _Collector:
    def __init__(self, tables: dict[str, pl.DataFrame]):
        self.t = tables
        self.rows: list[dict] = []
        src = tables["core_sources"]
        self.secondary = set(src.filter(pl.col("is_secondary"))["source_id"].to_list())

    def confidence(self, source_ids: str, inferred: bool = False) -> str:
        ids = [s for s in (source_ids or "").split(";") if s]
        if ids and all(s in self.secondary for s in ids):
            return "low"
        return "medium" if inferred else "high"

    def add(self, finding_id: str, category: str, title: str, statement: str, metric: str, value: float | None,
            unit: str, episodes: Iterable[str], evidence: Iterable[str], source_ids: str,
            inferred: bool = False, low: float | None = None, high: float | None = None,
            confidence: str | None = None) -> None:
        self.rows.append({
            "finding_id": finding_id, "category": category, "title": title, "statement": statement,
            "metric": metric, "value": None if value is None else float(value),
            "value_low": None if low is None else float(low), "value_high": None if high is None else float(high),
            "unit": unit, "episode_ids": _ids(episodes), "evidence": _ids(evidence), "source_ids": source_ids or "",
            "confidence": confidence or self.confidence(source_ids, inferred),
        })


def _recurring_airframes(c: _Collector) -> None:
    stops = c.t["core_stops"].filter(pl.col("is_main_variant"))
    aircraft = c.t["core_aircraft"]
    per = (stops.group_by("aircraft_id").agg(
        pl.col("episode_id").unique().sort().alias("episodes"),
        pl.col("stop_id").alias("stops"), pl.col("source_ids").alias("sources"),
        pl.col("evidence").unique().alias("evidence_kinds"))
        .filter(pl.col("episodes").list.len() >= 2).sort("aircraft_id"))
    for r in per.iter_rows(named=True):
        label = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"])["label"]
        label = label[0] if label.len() else r["aircraft_id"]
        eps = r["episodes"]
        c.add(f"recurring-airframe-{r['aircraft_id']}", "recurring airframes", f"{label} recurs",
              f"{label} appears in {len(eps)} episodes: {', '.join(eps)}.", "episode_count", len(eps), "episodes",
              eps, [f"core_stops:{s}" for s in r["stops"]], _ids(r["sources"]))


def _sanctions_at_flight_time(c: _Collector) -> None:
    stops = c.t["core_stops"].filter(pl.col("is_main_variant"))
    aircraft = c.t["core_aircraft"]
    sanctions = c.t["core_sanctions"]
    starts = stops.group_by("episode_id", "aircraft_id").agg(
        pl.min_horizontal(pl.col("dep_earliest_utc").min(), pl.col("arr_earliest_utc").min()).alias("t0"),
        pl.col("source_ids").alias("sources"), pl.col("stop_id").first().alias("first_stop")).sort("episode_id", "aircraft_id")
    for r in starts.iter_rows(named=True):
        ac = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"]).to_dicts()
        if not ac:
            continue
        ac = ac[0]
        hits = sanctions.filter(
            ((pl.col("target_table") == "aircraft") & (pl.col("target_id") == ac["aircraft_id"]))
            | ((pl.col("target_table") == "operators") & (pl.col("target_id") == (ac["operator_id"] or ""))))
        if hits.height == 0:
            continue
        dated = hits.filter(pl.col("effective_latest_utc").is_not_null()).sort("effective_earliest_utc")
        relayed = hits.filter(pl.col("effective_latest_utc").is_null())
        fid = f"sanctioned-at-flight-{r['episode_id']}-{ac['aircraft_id']}"
        evidence = [f"core_stops:{r['first_stop']}"] + [f"core_sanctions:{s}" for s in hits["sanction_id"]]
        sources = _ids(list(hits["source_ids"]) + r["sources"])
        extra = (f" Undated sanctions are also reported ({', '.join(relayed['authority'].unique().sort())}), "
                 "without an effective date." if relayed.height else "")
        if r["t0"] is None:
            c.add(fid, "sanctions at flight time", f"{ac['label']}: sanction status unknown",
                  f"{ac['label']} in {r['episode_id']}: the episode is undated, so whether the recorded sanctions "
                  f"already applied cannot be said.{extra}", "days_under_sanction", None, "days",
                  [r["episode_id"]], evidence, sources, confidence="low")
            continue
        before = dated.filter(pl.col("effective_latest_utc") <= r["t0"])
        if before.height:
            first = before.row(0, named=True)
            days = (r["t0"] - first["effective_latest_utc"]).total_seconds() / 86400
            c.add(fid, "sanctions at flight time", f"{ac['label']} flew under sanctions",
                  f"When {ac['label']} set out on {r['episode_id']} ({_date(r['t0'])}), {first['target_label']} had "
                  f"been under {first['authority']} sanctions since {_date(first['effective_earliest_utc'])}, "
                  f"about {days:,.0f} days earlier.{extra}", "days_under_sanction", round(days, 1), "days",
                  [r["episode_id"]], evidence, sources)
        elif dated.height:
            first = dated.row(0, named=True)
            days = (first["effective_earliest_utc"] - r["t0"]).total_seconds() / 86400
            c.add(fid, "sanctions at flight time", f"{ac['label']} flew before its sanctions",
                  f"{ac['label']} flew {r['episode_id']} ({_date(r['t0'])}) about {days:,.0f} days before "
                  f"{first['authority']} sanctioned {first['target_label']} ({_date(first['effective_earliest_utc'])}).{extra}",
                  "days_under_sanction", round(-days, 1), "days", [r["episode_id"]], evidence, sources)


def _staging_countries(c: _Collector) -> None:
    # a stop known only as a position over no country (an observed landing far from any airport) has no country
    stops = c.t["core_stops"].filter(pl.col("is_main_variant") & (pl.col("role") == "staging")
                                     & pl.col("country_name").is_not_null())
    per = stops.group_by("country_name").agg(
        pl.col("episode_id").unique().sort().alias("episodes"), pl.col("stop_id").alias("stops"),
        pl.col("source_ids").alias("sources"), (pl.col("location_basis") != "airport").any().alias("inferred")
    ).filter(pl.col("episodes").list.len() >= 2).sort("country_name")
    for r in per.iter_rows(named=True):
        eps = r["episodes"]
        c.add(f"shared-staging-{r['country_name'].lower().replace(' ', '-')}", "shared staging countries",
              f"{r['country_name']} staged {len(eps)} episodes",
              f"{r['country_name']} was a staging stop in {len(eps)} episodes: {', '.join(eps)}.",
              "episode_count", len(eps), "episodes", eps, [f"core_stops:{s}" for s in r["stops"]],
              _ids(r["sources"]), inferred=r["inferred"])
    # staging geography by period: up to 2019 versus 2025 onwards
    summary = c.t["out_episode_summary"].filter(pl.col("is_dated"))
    if summary.height == 0:
        return
    summary = summary.with_columns(pl.col("first_time_utc").dt.year().alias("year"))
    early = stops.join(summary.filter(pl.col("year") <= 2019).select("episode_id"), on="episode_id")
    late = stops.join(summary.filter(pl.col("year") >= 2025).select("episode_id"), on="episode_id")
    if early.height and late.height:
        a, b = set(early["country_name"]), set(late["country_name"])
        jac = len(a & b) / len(a | b)
        c.add("staging-by-period", "shared staging countries", "Staging geography shifted between periods",
              f"Episodes up to 2019 staged through {', '.join(sorted(a))}; episodes from 2025 staged through "
              f"{', '.join(sorted(b))}. Countries shared by both periods: {', '.join(sorted(a & b)) or 'none'} "
              f"(overlap {jac:.2f} on a 0-1 scale).", "staging_country_jaccard", round(jac, 3), "ratio",
              list(early["episode_id"].unique().sort()) + list(late["episode_id"].unique().sort()),
              [f"core_stops:{s}" for s in list(early["stop_id"]) + list(late["stop_id"])],
              _ids(list(early["source_ids"]) + list(late["source_ids"])),
              inferred=bool((pl.concat([early, late])["location_basis"] != "airport").any()))


def _longest_leg_vs_range(c: _Collector) -> None:
    legs = c.t["core_legs"].filter(pl.col("is_main_variant") & pl.col("distance_km").is_not_null())
    aircraft = c.t["core_aircraft"]
    best = legs.sort("distance_km", descending=True).group_by("aircraft_id", maintain_order=True).first()
    for r in best.join(aircraft, on="aircraft_id", how="left").sort("aircraft_id").iter_rows(named=True):
        fid = f"longest-leg-{r['aircraft_id']}"
        leg = f"{r['from_name']} to {r['to_name']}"
        basis = " (at least one end is an inferred airport)" if r["distance_basis"] == "inferred" else ""
        if r["range_km"]:
            ratio = r["distance_km"] / r["range_km"]
            c.add(fid, "longest leg against range", f"{r['label']}: longest leg {ratio:.0%} of range",
                  f"The longest located leg of {r['label']} is {leg}, {r['distance_km']:,.0f} km great-circle{basis}, "
                  f"{ratio:.0%} of the {r['range_km']:,.0f} km range a source gives for the {r['type_name']}.",
                  "leg_to_range_ratio", round(ratio, 3), "ratio", [r["episode_id"]], [f"core_legs:{r['leg_id']}"],
                  _ids([r["source_ids"], r["type_source_ids"]]), inferred=r["distance_basis"] == "inferred")
        else:
            c.add(fid, "longest leg against range", f"{r['label']}: longest leg {r['distance_km']:,.0f} km",
                  f"The longest located leg of {r['label']} is {leg}, {r['distance_km']:,.0f} km great-circle{basis}. "
                  f"No source in the evidence base gives the range of the {r['type_name']}, so it is not compared.",
                  "longest_leg_km", round(r["distance_km"], 1), "km", [r["episode_id"]], [f"core_legs:{r['leg_id']}"],
                  r["source_ids"], inferred=r["distance_basis"] == "inferred")


def _context_lag(c: _Collector) -> None:
    summary = c.t["out_episode_summary"].filter(pl.col("dest_arr_earliest_utc").is_not_null())
    timeline = c.t["out_timeline"].filter(pl.col("kind").is_in(["event", "sanction"]))
    for r in summary.iter_rows(named=True):
        arr = r["dest_arr_earliest_utc"]
        prior = timeline.filter(pl.col("earliest_utc") <= arr).sort("earliest_utc")
        if prior.height == 0:
            continue
        ev = prior.row(-1, named=True)
        low = (arr - ev["latest_utc"]).total_seconds() / 86400 if ev["latest_utc"] and ev["latest_utc"] <= arr else 0.0
        high = (r["dest_arr_latest_utc"] - ev["earliest_utc"]).total_seconds() / 86400
        mid = (low + high) / 2
        c.add(f"context-lag-{r['episode_id']}", "time from context event to arrival",
              f"{r['episode_id']}: {mid:,.0f} days after '{ev['label']}'",
              f"The arrival at {r['destination']} in {r['episode_id']} came {low:,.1f} to {high:,.1f} days after the "
              f"nearest preceding context event on record: {ev['label']} ({_date(ev['earliest_utc'])}).",
              "days_after_event", round(mid, 2), "days", [r["episode_id"]],
              [f"out_timeline:{ev['item_id']}", f"core_episodes:{r['episode_id']}"], _ids([ev["source_ids"], r["source_ids"]]),
              low=round(low, 2), high=round(high, 2))


def _dwell(c: _Collector) -> None:
    summary = c.t["out_episode_summary"].filter(pl.col("dest_dwell_max_h").is_not_null())
    routes = c.t["out_route_summary"]
    stops = c.t["core_stops"]
    for r in summary.iter_rows(named=True):
        lead = routes.filter((pl.col("episode_id") == r["episode_id"]) & (pl.col("aircraft_id") == r["lead_aircraft_id"])
                             & pl.col("is_main_variant")).row(0, named=True)
        dest = stops.filter((pl.col("episode_id") == r["episode_id"]) & (pl.col("aircraft_id") == r["lead_aircraft_id"])
                            & pl.col("is_main_variant") & (pl.col("role") == "destination")).sort("seq").row(0, named=True)
        lo, hi, exact = r["dest_dwell_min_h"], r["dest_dwell_max_h"], r["dest_dwell_h"]
        text = (f"{exact:,.1f} hours" if exact is not None else f"between {lo:,.0f} and {hi:,.0f} hours "
                f"({lo / 24:,.1f} to {hi / 24:,.1f} days)")
        c.add(f"dest-dwell-{r['episode_id']}", "dwell at destination", f"{r['episode_id']}: {text} at {lead['destination']}",
              f"In {r['episode_id']}, {r['lead_aircraft_label']} stayed at {lead['destination']} for {text}, "
              f"from arrival ({dest['arr_precision']}) to departure ({dest['dep_precision']}).",
              "dest_dwell_h", exact if exact is not None else (lo + hi) / 2, "hours", [r["episode_id"]],
              [f"core_stops:{dest['stop_id']}"], dest["source_ids"] or "", low=lo, high=hi,
              inferred=exact is None)


def _similarity(c: _Collector) -> None:
    sim = c.t["out_route_similarity"].filter(pl.col("similarity").is_not_null())
    if sim.height == 0:
        return
    eps = c.t["out_episode_summary"]
    for r in sim.sort("similarity", descending=True).head(3).iter_rows(named=True):
        src = _ids(eps.filter(pl.col("episode_id").is_in([r["episode_a"], r["episode_b"]]))["source_ids"])
        c.add(f"route-similarity-{r['episode_a']}-{r['episode_b']}", "route similarity",
              f"{r['episode_a']} and {r['episode_b']} flew alike routes",
              f"{r['episode_a']} and {r['episode_b']} share {r['shared_country_count']} countries "
              f"({r['shared_countries'].replace(';', ', ')}); country overlap {r['country_jaccard']:.2f}, located stops "
              f"{r['mean_nearest_stop_km']:,.0f} km apart on average: similarity {r['similarity']:.2f} (0-1).",
              "route_similarity", round(r["similarity"], 3), "score (0-1)", [r["episode_a"], r["episode_b"]],
              [f"out_route_similarity:{r['episode_a']}|{r['episode_b']}"], src, inferred=True)


def _reported_distance(c: _Collector) -> None:
    claims = c.t["core_claims"].filter((pl.col("kind") == "flight_distance") & pl.col("stop_id").is_not_null()
                                       & pl.col("quantity").is_not_null())
    legs = c.t["core_legs"]
    for r in claims.iter_rows(named=True):
        leg = legs.filter(pl.col("to_stop_id") == r["stop_id"])
        if leg.height == 0 or leg["distance_km"][0] is None:
            continue
        leg = leg.row(0, named=True)
        km = r["quantity"] * (1.852 if (r["unit"] or "").lower() in ("nm", "nmi") else 1.0)
        ratio = km / leg["distance_km"]
        c.add(f"reported-distance-{r['claim_id']}", "reported against great-circle distance",
              f"{leg['from_name']} to {leg['to_name']}: flown {ratio:.2f}x the great circle",
              f"{r['claimant']} gives {km:,.0f} km for the flight from {leg['from_name']} to {leg['to_name']} in "
              f"{r['episode_id']}; the great-circle distance is {leg['distance_km']:,.0f} km, so the route flown was "
              f"{ratio:.2f} times the shortest path.", "flown_to_great_circle_ratio", round(ratio, 3), "ratio",
              [r["episode_id"]], [f"core_claims:{r['claim_id']}", f"core_legs:{leg['leg_id']}"],
              _ids([r["source_ids"], leg["source_ids"]]), inferred=leg["distance_basis"] == "inferred")


def _detour(c: _Collector) -> None:
    s = c.t["out_episode_summary"].filter(pl.col("detour_factor").is_not_null()).sort("detour_factor", descending=True)
    for r in s.iter_rows(named=True):
        c.add(f"detour-{r['episode_id']}", "route directness",
              f"{r['episode_id']}: outbound route {r['detour_factor']:.2f}x the direct distance",
              f"{r['lead_aircraft_label']} flew {r['outbound_km']:,.0f} km from {r['origin']} to {r['destination']} "
              f"via {r['outbound_staging_stops']} staging stop(s), against {r['direct_km']:,.0f} km direct: a detour "
              f"factor of {r['detour_factor']:.2f}.", "detour_factor", round(r["detour_factor"], 3), "ratio",
              [r["episode_id"]], [f"out_route_summary:{r['episode_id']}|{r['lead_aircraft_id']}|main"], r["source_ids"],
              inferred=bool(r["uses_inferred_places"]))


def _observed(c: _Collector) -> None:
    cmp_ = c.t["out_observed_vs_reported"]
    for (ep,), g in cmp_.group_by("episode_id", maintain_order=True):
        agree = g.filter(pl.col("status") == "agree").height
        c.add(f"observed-vs-reported-{ep}", "observed against reported",
              f"{ep}: {agree} of {g.height} stops agree",
              f"In {ep}, observed flight records and reports agree on {agree} of {g.height} stops; "
              f"{g.filter(pl.col('status') == 'time_differs').height} differ in time, "
              f"{g.filter(pl.col('status') == 'not_observed').height} reported stops were not observed and "
              f"{g.filter(pl.col('status') == 'not_reported').height} observed stops were not reported.",
              "stops_agreeing", agree, "stops", [ep], [f"out_observed_vs_reported:{ep}"],
              _ids(g["source_ids"]), confidence="medium")
    gaps = c.t["core_gaps"]
    for (ep,), g in gaps.group_by("episode_id", maintain_order=True):
        longest = g.sort("duration_min", descending=True).row(0, named=True)
        c.add(f"transponder-gaps-{ep}", "transponder gaps",
              f"{ep}: {g.height} gap(s) in observed coverage",
              f"Observed records of {ep} have {g.height} coverage gap(s); the longest lasted "
              f"{longest['duration_min'] / 60:,.1f} h and jumped {longest['jump_km']:,.0f} km.",
              "gap_count", g.height, "gaps", [ep], [f"core_gaps:{ep}"], "", confidence="medium")


def compute(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every finding, from the derived tables (see module docstring)."""
    c = _Collector(tables)
    for step in (_recurring_airframes, _sanctions_at_flight_time, _staging_countries, _longest_leg_vs_range,
                 _context_lag, _dwell, _similarity, _reported_distance, _detour, _observed):
        step(c)
    return pl.DataFrame(c.rows, schema=FINDINGS_SCHEMA) if c.rows else pl.DataFrame(schema=FINDINGS_SCHEMA)
