"""Cross-episode findings, computed from the derived tables, never typed in.

Each finding is a row: a ``headline`` (one plain sentence a reader can quote, at most 30 words, no ids), the
detailed ``statement`` written from the numbers, the ``metric`` and its ``value`` (with ``value_low``/``value_high``
where the evidence allows a range), the ``episode_ids`` it concerns, the ``evidence`` rows behind it
(``table:id``) and their ``source_ids``. Every row also says how far it can be trusted, following the rubric in
docs/confidence.md (after ICD 203, which keeps likelihood apart from confidence):

* ``likelihood``: how probable the statement is, in the fixed words of ICD 203;
* ``confidence``: ``high``, ``moderate`` or ``low``, from the number of *independent origins* behind it (a relay
  or rewrite of one report is one origin, see ``core_sources.origin_id``), the precision of its places and times,
  whether it rests on an inference, and for a comparison across episodes how many routes each group holds (fewer
  than :data:`MIN_GROUP` in a group: low); ``confidence_reason`` says which;
* ``importance`` and ``is_key`` (the few the index leads with, one per category of :data:`KEY_CATEGORIES`).

Nothing about one study is written here: home, the destination region, corridors and crossing kinds come from
data/raw/corridors.csv, the periods from data/raw/study.csv, the kinds of flight from data/raw/episodes.csv. A
finding whose inputs are empty is not written. Dates are printed as the sources report them
(:func:`analysis.timespec.display`), never as the UTC lower bound of their interval.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from . import geo, payload, steps
from .similarity import ALIKE_THRESHOLD
from .stats import fisher_exact, permutation_p
from .timespec import display

__all__ = [
    "compute",
    "summarize",
    "key_findings",
    "FINDINGS_SCHEMA",
    "SUMMARY_SCHEMA",
    "LIKELIHOOD",
    "CONFIDENCE",
    "rubric",
    "KEY_CATEGORIES",
    "MIN_GROUP",
    "CONTEXT_WINDOW",
    "HEADLINE_MAX_WORDS",
    "headline_problem",
    "JUMP_OFF_WORDS",
]

#: the declared shapes of out_findings and out_summary (analysis/steps.py)
FINDINGS_SCHEMA: dict[str, Any] = dict(steps.table_schema("out_findings"))
SUMMARY_SCHEMA: dict[str, Any] = dict(steps.table_schema("out_summary"))

#: ICD 203 likelihood words, least to most probable
LIKELIHOOD = (
    "almost no chance",
    "very unlikely",
    "unlikely",
    "roughly even chance",
    "likely",
    "very likely",
    "almost certain",
)
CONFIDENCE = ("low", "moderate", "high")
#: the categories the index leads with, in this order: one key finding each (the most important of the category)
KEY_CATEGORIES = (
    "routes by period",
    "ocean crossings",
    "payload against range",
    "sanctioned airframe on the ground",
    "repeated chain",
    "departure timing",
)
#: how much a category adds beyond what one episode page already shows (0-1), for ``importance``
NOVELTY = {
    "routes by period": 1.0,
    "ocean crossings": 1.0,
    "payload against range": 0.9,
    "sanctioned airframe on the ground": 0.9,
    "repeated chain": 0.8,
    "departure timing": 0.6,
    "transponder off on crossings": 0.8,
    "recurring airframes": 0.7,
    "route similarity": 0.5,
    "sanctions at flight time": 0.5,
    "reported figures against geometry": 0.6,
    "route corridors": 0.4,
    "context within 30 days": 0.2,
    "dwell at destination": 0.2,
    "route directness": 0.2,
    "observed against reported": 0.6,
    "transponder gaps": 0.6,
}
#: a comparison across episodes is never more than low confidence when a group it compares holds fewer routes
MIN_GROUP = 5
#: context events listed around a departure: this far either side
CONTEXT_WINDOW = timedelta(days=30)
#: the timing test looks back at most this far for the nearest preceding escalation event
TIMING_LOOKBACK = timedelta(days=365)
#: the timing test is not run on fewer dated episodes
TIMING_MIN_EPISODES = 10
HEADLINE_MAX_WORDS = 30
#: jump-off kinds (corridors.jump_off) as readers see them
JUMP_OFF_WORDS = {
    "atlantic_west_africa": "Atlantic from West Africa or Cape Verde",
    "atlantic_north_africa_iberia": "Atlantic from North Africa or Iberia",
    "longhaul_mediterranean_middle_east": "long-haul from the Mediterranean or the Middle East",
    "northern": "northern route over the North Atlantic",
    "no_stop_reported": "no stop reported between home and the destination region",
}
_ATLANTIC = ("atlantic_west_africa", "atlantic_north_africa_iberia")
#: sanction kinds (sanctions.kind) as verb and noun
SANCTION_WORDS = {
    "designation": ("designated", "designation"),
    "blocked_property": ("listed as blocked property", "listing as blocked property"),
    "export_denial": ("placed under an export denial", "export denial"),
    "asset_freeze": ("placed under an asset freeze", "asset freeze"),
    "entity_listing": ("put on an entity list", "entity listing"),
    "flight_ban": ("banned from flying", "flight ban"),
    "other": ("sanctioned", "sanction"),
}
KIND_WORDS = {
    "bomber_visit": "bomber visits",
    "military_transport": "military transport flights",
    "government_vip": "government flights",
    "state_cargo": "state cargo flights",
    "humanitarian_airlift": "humanitarian airlifts",
}
log = logging.getLogger(__name__)
_ID_LIKE = re.compile(r"\b\d{4}-\d{2}[a-z]?-[a-z]|\b[a-z]+-[a-z]+-\d|_|\(s\)|\bleg\(s\)")


def headline_problem(text: str) -> str | None:
    """Why a headline is not one a reader can quote, or None.

    >>> headline_problem("RA-78765 was reported on the ground in 15 countries after its designation.") is None
    True
    >>> headline_problem("2025-10-caracas: 3 leg(s) beyond range")
    'it holds an id or internal words'
    """
    words = text.split()
    if len(words) > HEADLINE_MAX_WORDS:
        return f"it has {len(words)} words (at most {HEADLINE_MAX_WORDS})"
    if _ID_LIKE.search(text):
        return "it holds an id or internal words"
    if not text.endswith("."):
        return "it is not a sentence (no full stop)"
    return None


def _ids(values: Iterable[str | None]) -> str:
    out: list[str] = []
    for v in values:
        for part in (v or "").split(";"):
            if part and part not in out:
                out.append(part)
    return ";".join(out)


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _list(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def rubric(
    origins: int, secondary_only: bool, inferred: bool, imprecise: bool, disputed: bool
) -> tuple[str, str]:
    """(confidence, likelihood) by the rubric of docs/confidence.md.

    >>> rubric(1, False, False, False, False)
    ('moderate', 'likely')
    >>> rubric(2, False, False, False, False)
    ('high', 'very likely')
    >>> rubric(3, True, False, False, False)  # only rewrites: low whatever their number
    ('low', 'roughly even chance')
    >>> rubric(1, False, True, True, False)  # one origin, uncontradicted, but inferred and imprecise
    ('low', 'likely')
    """
    if secondary_only or origins == 0:
        level = "low"
    elif origins >= 2 and not inferred and not imprecise:
        level = "high"
    elif origins >= 2 or not (inferred or imprecise):
        level = "moderate"
    else:
        level = "low"
    if disputed and level == "high":
        level = "moderate"
    if secondary_only or origins == 0:
        likelihood = "roughly even chance"
    elif disputed:
        likelihood = "likely" if origins >= 2 else "roughly even chance"
    else:
        likelihood = "very likely" if origins >= 2 else "likely"
    return level, likelihood


class _Collector:
    def __init__(self, tables: dict[str, pl.DataFrame]):
        self.t = tables
        self.rows: list[dict] = []
        src = tables["core_sources"]
        self.secondary = set(
            src.filter(
                (pl.col("kind") == "rewrite")
                | (pl.col("is_secondary") & pl.col("origin").is_null() & pl.col("relays_source_id").is_null())
            )["source_id"].to_list()
        )
        self.origin = dict(zip(src["source_id"], src["origin_id"], strict=True))
        conflicts = tables["core_conflicts"]
        stops = tables["core_stops"]
        self.disputed: set[str] = set()
        legs = tables["core_legs"]
        self.leg_stops = {
            r[0]: (r[1], r[2]) for r in legs.select("leg_id", "from_stop_id", "to_stop_id").iter_rows()
        }
        for r in conflicts.iter_rows(named=True):
            if r["record_ids"]:
                self.disputed |= set(r["record_ids"].split(";"))
            elif r["variant"]:
                self.disputed |= set(
                    stops.filter(
                        (pl.col("episode_id") == r["episode_id"]) & (pl.col("variant") == r["variant"])
                    )["stop_id"]
                )
        self.summary = tables["out_episode_summary"]
        corr = tables["core_corridors"]
        self.role = dict(zip(corr["area"], corr["role"], strict=True))
        self.corridor = dict(zip(corr["area"], corr["corridor"], strict=True))
        self.jump = dict(zip(corr["area"], corr["jump_off"], strict=True))
        eps = tables["core_episodes"]
        self.kind = dict(zip(eps["episode_id"], eps["kind"], strict=True)) if "kind" in eps.columns else {}
        study = tables.get("core_study")
        self.study = study.row(0, named=True) if study is not None and study.height else {}
        self.t0 = dict(zip(self.summary["episode_id"], self.summary["first_time_utc"], strict=True))

    def origins(self, source_ids: str) -> list[str]:
        return sorted({self.origin.get(s) or s for s in (source_ids or "").split(";") if s})

    def add(
        self,
        finding_id: str,
        category: str,
        title: str,
        headline: str,
        statement: str,
        metric: str,
        value: float | None,
        unit: str,
        episodes: Iterable[str],
        evidence: Iterable[str],
        source_ids: str,
        *,
        inferred: bool = False,
        imprecise: bool = False,
        disputed: bool | None = None,
        why: str = "",
        low: float | None = None,
        high: float | None = None,
        likelihood: str | None = None,
        confidence: str | None = None,
        weakest: int | None = None,
        group_n: int | None = None,
        key_bonus: float = 0.0,
    ) -> None:
        headline = headline[:1].upper() + headline[1:]
        problem = headline_problem(headline)
        if problem:
            # never a broken build over a long name in new data: the title stands in, and the build says so
            log.warning(
                "finding %s: headline %r is not quotable (%s); its title is used",
                finding_id,
                headline,
                problem,
            )
            headline = title if title.endswith(".") else title + "."
        source_ids = _ids([source_ids])
        eps = _ids(episodes)
        evidence = list(evidence)
        if disputed is None:
            rows = set()
            for e in evidence:
                table, _, key = e.partition(":")
                rows |= set(self.leg_stops.get(key, ())) if table == "core_legs" else {key}
            disputed = bool(rows & self.disputed)
        origins = self.origins(source_ids)
        ids = [s for s in source_ids.split(";") if s]
        secondary_only = bool(ids) and all(s in self.secondary for s in ids)
        level, like = rubric(len(origins), secondary_only, inferred, imprecise, disputed)
        if weakest is not None and weakest < 2 and level == "high":
            level = "moderate"
        if weakest is not None and weakest == 0:
            level = "low"
        small = group_n is not None and group_n < MIN_GROUP
        if small:
            level = "low"
        level = confidence or level
        parts = [f"{len(origins)} independent origin{'s' if len(origins) != 1 else ''}"]
        if len(ids) > len(origins):
            parts.append(f"{len(ids) - len(origins)} relayed or rewritten pages not counted again")
        if secondary_only:
            parts.append("only secondary sources (rewrites or relays)")
        if inferred:
            parts.append("rests on an inference (an assumed airport, origin or stop order)")
        if imprecise:
            parts.append("places or times known only to the country or the day")
        if disputed:
            parts.append("sources disagree on part of it (see conflicts)")
        if weakest is not None and weakest < 2:
            parts.append("some of the items it counts rest on a single origin each")
        if small:
            parts.append(f"a group it compares holds only {group_n} routes (fewer than {MIN_GROUP})")
        if why:
            parts.append(why)
        scope = min(1.0, len([e for e in eps.split(";") if e]) / 5)
        weight = {"high": 1.0, "moderate": 0.6, "low": 0.3}[level]
        self.rows.append(
            {
                "finding_id": finding_id,
                "category": category,
                "title": title,
                "headline": headline,
                "statement": statement,
                "metric": metric,
                "value": None if value is None else float(value),
                "value_low": None if low is None else float(low),
                "value_high": None if high is None else float(high),
                "unit": unit,
                "episode_ids": eps,
                "evidence": _ids(evidence),
                "source_ids": source_ids,
                "origin_count": len(origins),
                "likelihood": likelihood or like,
                "confidence": level,
                "confidence_reason": "; ".join(parts) + ".",
                "importance": round(
                    0.4 * scope + 0.4 * NOVELTY.get(category, 0.3) + 0.2 * weight + key_bonus, 3
                ),
                "is_key": False,
            }
        )

    # --- helpers over the derived tables ---------------------------------------------------------------------
    def main_stops(self) -> pl.DataFrame:
        return self.t["core_stops"].filter(pl.col("is_main_variant"))

    def when(self, episode_id: str) -> str:
        """How the episode is dated in the sources: the first reported time of its lead route."""
        s = self.main_stops().filter(pl.col("episode_id") == episode_id).sort("seq")
        for r in s.iter_rows(named=True):
            for col in ("arr_reported", "dep_reported"):
                if r[col] and r[f"{col[:3]}_earliest_utc"] is not None:
                    return display(r[col])
        return "undated"

    def month(self, episode_id: str) -> str:
        """The month and year of the episode as reported (e.g. 'Oct 2025'): of the first arrival in the destination
        region when it is dated, else of the first dated time; 'undated' when none is."""
        s = self.main_stops().filter(pl.col("episode_id") == episode_id).sort("aircraft_id", "seq")
        arrivals = [r for r in s.iter_rows(named=True) if self.role.get(self.area(r)) == "destination"]
        for rows, cols in (
            (arrivals, ("arr_reported", "dep_reported")),
            (list(s.iter_rows(named=True)), ("dep_reported", "arr_reported")),
        ):
            for r in rows:
                for col in cols:
                    m = re.match(r"^(\d{4})-(\d{2})", r[col] or "")
                    if m and r[f"{col[:3]}_earliest_utc"] is not None:
                        return display(f"{m.group(1)}-{m.group(2)}")
        return "undated"

    def name(self, episode_id: str) -> str:
        """An episode as a reader names it: 'RA-78765 to Caracas, Oct 2025', 'the Tu-160s to El Libertador air
        base, Sep 2008'."""
        summ = self.summary.filter(pl.col("episode_id") == episode_id)
        if summ.height == 0:
            return episode_id
        r = summ.row(0, named=True)
        label = (
            _short_label(self, r["lead_aircraft_id"])
            if r["aircraft_count"] == 1
            else _group_label(self, episode_id)
        )
        return f"{label} to {_short_place(r['destination'])}, {self.month(episode_id)}"

    def area(self, row: dict) -> str:
        return row["place_id"] if row.get("place_precision") == "region" else (row.get("country") or "")

    def home_countries(self) -> list[str]:
        return [a for a, r in self.role.items() if r == "home"]


def _short_place(name: str | None) -> str:
    if not name:
        return "an unnamed place"
    return name.split(" (")[0]


def _short_label(c: _Collector, aircraft_id: str) -> str:
    a = c.t["core_aircraft"].filter(pl.col("aircraft_id") == aircraft_id)
    if a.height == 0:
        return aircraft_id
    r = a.row(0, named=True)
    if r["registration"]:
        return r["registration"]
    type_short = _type_short(r["type_name"])
    if r["name"]:
        return f"the {type_short} {r['name']}"
    return f"an unidentified {type_short.replace(' Ruslan', '')}"


def _type_short(name: str | None) -> str:
    return re.sub(r"^(Ilyushin|Antonov|Tupolev|Sukhoi|Boeing|Airbus) ", "", name or "aircraft").split(" (")[0]


def _group_label(c: _Collector, episode_id: str) -> str:
    """'the An-124 and Il-62M', 'the two Tu-160s', 'the Tu-160s, An-124s and Il-62'."""
    s = c.main_stops().filter(pl.col("episode_id") == episode_id)
    ac = c.t["core_aircraft"].filter(pl.col("aircraft_id").is_in(s["aircraft_id"].unique().to_list()))
    counts: dict[str, int] = {}
    for t in ac.sort("aircraft_id")["type_name"].to_list():
        counts[_type_short(t).replace(" Ruslan", "")] = (
            counts.get(_type_short(t).replace(" Ruslan", ""), 0) + 1
        )
    if len(counts) == 1:
        ((t, n),) = counts.items()
        return f"the {'two' if n == 2 else n} {t}s"
    return "the " + _list([f"{t}s" if n > 1 else t for t, n in counts.items()])


def _label(c: _Collector, aircraft_id: str) -> str:
    a = c.t["core_aircraft"].filter(pl.col("aircraft_id") == aircraft_id)
    if a.height == 0:
        return aircraft_id
    r = a.row(0, named=True)
    if not r["registration"] and not r["name"]:
        return f"an {r['type_name']} (registration not reported)" if r["type_name"] else aircraft_id
    return r["label"]


# --- routes: corridors per episode and by period --------------------------------------------------------------


def _routes(c: _Collector, variant_of: dict[str, str] | None = None) -> list[dict]:
    """One row per episode: its outbound and return staging corridors (main route, or the named variant)."""
    stops = c.t["core_stops"]
    rows = []
    for ep in c.summary["episode_id"].to_list():
        v = (variant_of or {}).get(ep)
        g = stops.filter(
            (pl.col("episode_id") == ep) & ((pl.col("variant") == v) if v else pl.col("is_main_variant"))
        ).sort("aircraft_id", "seq")
        first_dest = {
            ac: sub.filter(pl.col("role") == "destination")["seq"].min()
            for (ac,), sub in g.group_by("aircraft_id", maintain_order=True)
        }
        out: list[dict[str, Any]] = []
        ret: list[dict[str, Any]] = []
        for r in g.iter_rows(named=True):
            a = c.area(r)
            if c.role.get(a) != "staging":
                continue
            fd = first_dest.get(r["aircraft_id"])
            (out if fd is None or r["seq"] < fd else ret).append(r)
        corridors = sorted({c.corridor.get(c.area(r), "unclassified") for r in out + ret})
        rows.append(
            {
                "episode_id": ep,
                "t0": c.t0.get(ep),
                "corridors": corridors,
                "out": out,
                "ret": ret,
                "stops": g,
                "kind": c.kind.get(ep),
            }
        )
    return rows


def _route_corridors(c: _Collector) -> None:
    for r in _routes(c):
        if not r["corridors"]:
            continue
        ep, g = r["episode_id"], r["stops"]

        def names(items):
            return ", ".join(dict.fromkeys(x["place_name"] for x in items)) or "no stop reported"

        inferred = bool(
            g.filter(pl.col("role") == "staging")["location_basis"].is_in(["inferred"]).any()
            or (g["place_precision"] != "airport").any()
        )
        items = r["out"] + r["ret"]
        c.add(
            f"corridor-{ep}",
            "route corridors",
            f"{c.name(ep)}: {' and '.join(r['corridors'])}",
            f"{c.name(ep)} staged through {_list(r['corridors'])}.",
            f"{c.name(ep)} ({c.when(ep)}): outbound staging {names(r['out'])}; return staging {names(r['ret'])}. "
            f"Corridors by our classification: {', '.join(r['corridors'])}.",
            "corridor_count",
            len(r["corridors"]),
            "corridors",
            [ep],
            [f"core_stops:{x['stop_id']}" for x in items] + [f"core_corridors:{c.area(x)}" for x in items],
            _ids(x["source_ids"] for x in items),
            imprecise=inferred,
            why="the grouping of countries into corridors is our definition (data/raw/corridors.csv)",
        )


def _period_events(c: _Collector) -> pl.DataFrame:
    ids = [i for i in (c.study.get("period_event_ids") or "").split(";") if i]
    ev = c.t["core_events"].filter(pl.col("event_id").is_in(ids) & pl.col("start_earliest_utc").is_not_null())
    return ev.sort("start_earliest_utc")


def _disputed_route_variants(c: _Collector) -> dict[str, list[str]]:
    """episode -> the route variants (other than main) that a conflict position encodes."""
    conf = c.t["core_conflicts"].filter(pl.col("variant").is_not_null() & (pl.col("variant") != "main"))
    out: dict[str, list[str]] = {}
    for r in conf.iter_rows(named=True):
        if r["episode_id"]:
            out.setdefault(r["episode_id"], [])
            if r["variant"] not in out[r["episode_id"]]:
                out[r["episode_id"]].append(r["variant"])
    return out


def _variant_claim(c: _Collector, episode_id: str, variant: str) -> str:
    """What a route variant says, in the words of its conflict position (lower-cased start)."""
    conf = c.t["core_conflicts"].filter((pl.col("episode_id") == episode_id) & (pl.col("variant") == variant))
    if conf.height == 0:
        return f"the route {variant.replace('-', ' ')} is right"
    return conf["claim"][0].rstrip(".")


def _routes_by_period(c: _Collector) -> None:
    cuts = _period_events(c)
    if cuts.height == 0:
        return
    routes = [r for r in _routes(c) if r["t0"] is not None and r["corridors"]]
    if not routes:
        return
    first = cuts.row(0, named=True)
    cut_t = first["start_earliest_utc"]
    before = [r for r in routes if r["t0"] < cut_t]
    after = [r for r in routes if r["t0"] >= cut_t]
    if not before or not after:
        return
    counts: dict[str, int] = {}
    for r in before:
        for corr in r["corridors"]:
            counts[corr] = counts.get(corr, 0) + 1
    lead = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]

    def table(bef: list[dict], aft: list[dict]) -> tuple[int, int, int, int, float]:
        k1 = sum(lead in r["corridors"] for r in bef)
        k2 = sum(lead in r["corridors"] for r in aft)
        return k1, len(bef), k2, len(aft), fisher_exact(k1, len(bef) - k1, k2, len(aft) - k2)

    k1, n1, k2, n2, p = table(before, after)
    every = sorted({corr for r in routes for corr in r["corridors"]})
    rows_by_corr = []
    for corr in every:
        a1 = sum(corr in r["corridors"] for r in before)
        a2 = sum(corr in r["corridors"] for r in after)
        if a1 + a2 >= 2:
            rows_by_corr.append((corr, a1, a2, fisher_exact(a1, n1 - a1, a2, n2 - a2)))
    military = [r for r in routes if r["kind"] in ("military_transport", "bomber_visit", "state_cargo")]
    mb = [r for r in military if r["t0"] < cut_t]
    ma = [r for r in military if r["t0"] >= cut_t]
    bounds = [None] + [e["start_earliest_utc"] for e in cuts.iter_rows(named=True)] + [None]
    titles = [e["title"] for e in cuts.iter_rows(named=True)]
    parts = []
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        members = [r for r in routes if (lo is None or r["t0"] >= lo) and (hi is None or r["t0"] < hi)]
        head = (
            f"Before {titles[0]} ({display(cuts['start_reported'][0])})"
            if i == 0
            else f"From {titles[i - 1]} ({display(cuts['start_reported'][i - 1])})"
            + (f" to {titles[i]}" if i < len(titles) else " on")
        )
        if not members:
            parts.append(f"{head}: no dated route with a staging stop.")
            continue
        per: dict[str, list[str]] = {}
        for r in members:
            for corr in r["corridors"]:
                per.setdefault(corr, []).append(c.name(r["episode_id"]))
        parts.append(
            f"{head}, {_plural(len(members), 'route')}: "
            + "; ".join(
                f"{corr} {len(v)} ({', '.join(v)})"
                for corr, v in sorted(per.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            )
            + "."
        )
    words = (
        "a difference this large would arise by chance in fewer than 1 in 20 such records"
        if p < 0.05
        else "a difference this large could well arise by chance with so few routes"
    )
    # sensitivity: every disputed route variant in place of the main route
    variants = _disputed_route_variants(c)
    alt_routes = [
        r
        for r in _routes(c, {e: v[0] for e, v in variants.items()})
        if r["t0"] is not None and r["corridors"]
    ]
    sens = ""
    if variants:
        ab = [r for r in alt_routes if r["t0"] < cut_t]
        aa = [r for r in alt_routes if r["t0"] >= cut_t]
        if ab and aa:
            a1, m1, a2, m2, pa = table(ab, aa)
            sens = (
                f" With the disputed route variants in place of the main routes ({_list([c.name(e) for e in variants])}): "
                f"{a1} of {m1} before and {a2} of {m2} after (p = {pa:.3f})."
            )
    per_corr = (
        "By corridor, before and after (Fisher p): "
        + "; ".join(
            f"{corr} {x1} of {n1} and {x2} of {n2} (p = {px:.3f})" for corr, x1, x2, px in rows_by_corr
        )
        + f". With {len(rows_by_corr)} corridors tested, one p-value below 0.05 could arise by chance alone."
    )
    mil = ""
    if mb and ma:
        m1, mn1, m2, mn2, pm = table(mb, ma)
        mil = (
            f" Military transports, bomber visits and state cargo only: {m1} of {mn1} before and {m2} of {mn2} "
            f"after (p = {pm:.3f})."
        )
    kinds: dict[str, int] = {}
    for r in routes:
        kinds[r["kind"] or "not classified"] = kinds.get(r["kind"] or "not classified", 0) + 1
    kinds_text = ", ".join(
        f"{KIND_WORDS.get(k, k)} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])
    )
    not_counted = [c.name(r["episode_id"]) for r in _routes(c) if r["t0"] is None or not r["corridors"]]
    statement = (
        f"Of the routes with a reported staging stop, {k1} of {n1} before {titles[0]} "
        f"({display(cuts['start_reported'][0])}) went through {lead}, and {k2} of {n2} from then on. Fisher's "
        f"exact test, two-sided: p = {p:.3f}; {words}. "
        + per_corr
        + " "
        + " ".join(parts)
        + sens
        + mil
        + f" Kinds of flight counted: {kinds_text}."
        + (f" Not counted ({len(not_counted)}: undated or no staging stop reported)." if not_counted else "")
        + " The table shows when routes changed, not why."
    )
    evidence = [f"core_events:{e}" for e in cuts["event_id"]]
    for r in routes:
        evidence += [f"core_stops:{s['stop_id']}" for s in r["out"] + r["ret"]]
    weakest = min(
        (len(c.origins(_ids(s["source_ids"] for s in r["out"] + r["ret"]))) for r in routes), default=0
    )
    c.add(
        "routes-by-period",
        "routes by period",
        f"Routes through {lead} before and after {titles[0]}",
        f"Routes through {lead}: {k1} of {n1} before {display(first['start_reported'])}, {k2} of {n2} after; "
        f"Fisher p = {p:.2f}, {'unlikely to be chance' if p < 0.05 else 'a difference that could be chance'}.",
        statement,
        "routes_via_lead_corridor_after",
        k2,
        "routes",
        [r["episode_id"] for r in routes],
        evidence,
        _ids(list(cuts["source_ids"]) + [s["source_ids"] for r in routes for s in r["out"] + r["ret"]]),
        imprecise=True,
        weakest=weakest,
        group_n=min(n1, n2),
        why="the corridor grouping is our definition; a change in time is shown, not its cause",
        low=k2,
        high=k2,
    )


# --- ocean crossings ------------------------------------------------------------------------------------------


def _crossings(c: _Collector, main_only: bool = False) -> list[dict]:
    """Reported legs with one end in the destination region and the other outside it (the ocean crossing)."""
    legs = c.t["core_legs"].filter(pl.col("evidence") == "reported")
    if main_only:
        legs = legs.filter(pl.col("is_main_variant"))
    stops = c.t["core_stops"]
    prec = dict(zip(stops["stop_id"], stops["place_precision"], strict=True))
    cname = dict(zip(stops["stop_id"], stops["country_name"], strict=True))
    out = []
    for leg in legs.iter_rows(named=True):
        fa = (
            leg["from_place_id"] if prec.get(leg["from_stop_id"]) == "region" else (leg["from_country"] or "")
        )
        ta = leg["to_place_id"] if prec.get(leg["to_stop_id"]) == "region" else (leg["to_country"] or "")
        fr, tr = c.role.get(fa), c.role.get(ta)
        if fr is None or tr is None or (fr == "destination") == (tr == "destination"):
            continue
        outbound = tr == "destination"
        end = "from" if outbound else "to"
        area = fa if outbound else ta
        out.append(
            {
                **leg,
                "outbound": outbound,
                "gate": _short_place(leg[f"{end}_name"]),
                "gate_country": cname.get(leg[f"{end}_stop_id"]) or leg[f"{end}_name"],
                "gate_is_home": c.role.get(area) == "home",
                "jump_kind": "no_stop_reported"
                if c.role.get(area) == "home"
                else (c.jump.get(area) or "unclassified"),
            }
        )
    return out


def _ocean_crossings(c: _Collector) -> None:
    xs = _crossings(c)
    main = [x for x in xs if x["is_main_variant"]]
    if not main:
        return
    for ep in dict.fromkeys(x["episode_id"] for x in main):
        mine = [x for x in main if x["episode_id"] == ep]
        if all(x["gate_is_home"] for x in mine):
            continue  # no stop reported before the ocean: nothing to classify (counted in the summary finding)
        bits = []
        for x in mine:
            km = (
                f"{x['distance_km']:,.0f} km"
                if x["distance_km"] is not None
                else "length unknown (an end is not located)"
            )
            where = (
                f"straight from {x['gate']}, with no stop reported on the way"
                if x["gate_is_home"]
                else f"via {x['gate']}"
            )
            inferred = " (stop order inferred)" if x["is_order_inferred"] else ""
            bits.append(
                f"{_label(c, x['aircraft_id'])} {'out' if x['outbound'] else 'back'} {where}{inferred}, "
                f"{x['from_name']} to {x['to_name']} {km}"
            )
        jumped = [x for x in mine if not x["gate_is_home"]]
        kinds = list(dict.fromkeys(JUMP_OFF_WORDS.get(x["jump_kind"], "unclassified") for x in jumped))
        known = [x for x in mine if x["distance_km"] is not None]
        gates = list(dict.fromkeys(x["gate"] for x in jumped))
        c.add(
            f"crossing-{ep}",
            "ocean crossings",
            f"{c.name(ep)}: crossing via {', '.join(gates)}",
            f"{c.name(ep)}: the last stop before the ocean was {_list(gates)} ({'; '.join(kinds)}).",
            f"{c.name(ep)} ({c.when(ep)}): " + "; ".join(dict.fromkeys(bits)) + ".",
            "longest_crossing_km",
            max((x["distance_km"] for x in known), default=None),
            "km",
            [ep],
            [f"core_legs:{x['leg_id']}" for x in mine],
            _ids(x["source_ids"] for x in mine),
            inferred=any(x["distance_basis"] == "inferred" or x["is_order_inferred"] for x in mine),
            imprecise=any(x["distance_km"] is None for x in mine),
            weakest=min(len(c.origins(x["source_ids"])) for x in mine),
        )

    def tally(items: list[dict]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for x in items:
            out.setdefault(x["jump_kind"], []).append(x)
        return out

    def describe(items: list[dict]) -> str:
        t = tally(items)
        parts = []
        for kind, v in sorted(t.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            places: dict[str, int] = {}
            for x in v:
                places[x["gate"]] = places.get(x["gate"], 0) + 1
            parts.append(
                f"{len(v)} {JUMP_OFF_WORDS.get(kind, 'unclassified')} ("
                + ", ".join(f"{p} {n}" for p, n in sorted(places.items(), key=lambda kv: (-kv[1], kv[0])))
                + ")"
            )
        return "; ".join(parts)

    known = [x for x in main if not x["gate_is_home"]]
    atlantic = [x for x in known if x["jump_kind"] in _ATLANTIC]
    home = len(main) - len(known)
    statement = (
        f"Of {len(main)} reported ocean crossings on the main routes (out and back), {len(known)} have a "
        "reported stop on the far side of the ocean from the destination region (the jump-off: the last "
        "stop before the ocean, or the first after it on the way back): " + describe(known) + ". "
        f"{len(atlantic)} of them are Atlantic crossings (the jump-off is then the Atlantic gateway); the "
        "others are long-haul legs from further east or by the northern route."
        + (
            f" {home} crossings have no stop reported between home and the destination region (the route "
            "is not known)."
            if home
            else ""
        )
    )
    # disputed variants: what changes if each holds
    for ep, vs in _disputed_route_variants(c).items():
        for v in vs:
            alt = [x for x in xs if x["episode_id"] == ep and x["variant"] == v]
            mainx = [x for x in main if x["episode_id"] == ep]
            if not alt or {(x["gate"], x["jump_kind"]) for x in alt} == {
                (x["gate"], x["jump_kind"]) for x in mainx
            }:
                continue
            swapped = [x for x in known if x["episode_id"] != ep] + [x for x in alt if not x["gate_is_home"]]
            n_atl = sum(x["jump_kind"] in _ATLANTIC for x in swapped)
            claim = _variant_claim(c, ep, v)
            alt_known = [x for x in alt if not x["gate_is_home"]]
            what = (
                f"that trip jumped off from {_list(list(dict.fromkeys(x['gate'] for x in alt_known)))} ("
                f"{_list(list(dict.fromkeys(JUMP_OFF_WORDS.get(x['jump_kind'], 'unclassified') for x in alt_known)))})"
                if alt_known
                else "that trip has no reported stop before the ocean"
            )
            statement += (
                f" If the account of {c.name(ep)} that says '{claim}' holds, {what}, and {n_atl} of "
                f"{len(swapped)} crossings with a reported jump-off are Atlantic."
            )
    if not known:
        return
    west = sum(x["jump_kind"] == "atlantic_west_africa" for x in atlantic)
    c.add(
        "ocean-crossings",
        "ocean crossings",
        "Where the ocean crossings started",
        f"{len(atlantic)} of {len(known)} ocean crossings with a reported last stop before the ocean were "
        f"Atlantic, {west} from West Africa; {_plural(home, 'crossing')} had no such stop reported.",
        statement,
        "atlantic_crossings",
        len(atlantic),
        "crossings",
        sorted({x["episode_id"] for x in main}),
        [f"core_legs:{x['leg_id']}" for x in known],
        _ids(x["source_ids"] for x in known),
        inferred=any(x["distance_basis"] == "inferred" or x["is_order_inferred"] for x in known),
        imprecise=True,
        weakest=min(len(c.origins(x["source_ids"])) for x in known),
        group_n=len(known),
        why="the kind of each crossing is our classification of its jump-off country (data/raw/corridors.csv); "
        "many jump-offs are reported as a city or country, the airfield inferred",
    )


# --- payload against range ------------------------------------------------------------------------------------


def _fmt_t(x: float | None) -> str:
    return "none" if x is None else f"{x:,.0f} t"


def _interval_text(low: float | None, high: float | None, reach_km: float | None = None) -> str:
    if high is None:
        return "no payload at all: past the cited ferry range, not flyable nonstop"
    if not payload.known(high):
        return "not computed (the cited figures " + (
            f"end at {reach_km:,.0f} km)" if reach_km else "do not reach it)"
        )
    if low is None:
        return f"at most {_fmt_t(high)}, and nothing if the flown path was 10% longer"
    if not payload.known(low):
        return (
            f"at most {_fmt_t(high)} over the great circle (the cited figures do not reach a path 10% longer)"
        )
    if round(low) == round(high):
        return f"about {_fmt_t(high)}"
    return f"{_fmt_t(low)} to {_fmt_t(high)}"


def _interval_short(low: float | None, high: float | None) -> str:
    if high is None:
        return "nothing: the hop is past the cited ferry range"
    if not payload.known(high):
        return "an amount the cited figures do not reach"
    if low is None or not payload.known(low) or round(low) == round(high):
        return f"at most {_fmt_t(high)}"
    return f"{_fmt_t(low)} to {_fmt_t(high)}"


def _num(x: float | None) -> float | None:
    return x if payload.known(x) else None


def _payload(c: _Collector) -> None:
    ranges = c.t["core_type_ranges"]
    cs_by_type = payload.curves(ranges.to_dicts())
    if not cs_by_type:
        return
    aircraft = c.t["core_aircraft"]
    type_of = dict(zip(aircraft["aircraft_id"], aircraft["type_id"], strict=True))
    tname = dict(zip(aircraft["type_id"], aircraft["type_name"], strict=True))
    legs = c.t["core_legs"].filter((pl.col("evidence") == "reported") & pl.col("distance_km").is_not_null())
    legs = legs.with_columns(pl.col("aircraft_id").replace_strict(type_of, default=None).alias("type_id"))
    for type_id, cs in sorted(cs_by_type.items()):
        g = legs.filter(pl.col("type_id") == type_id)
        if g.height == 0 or not cs:
            continue
        name = tname.get(type_id, type_id)
        short = _type_short(name)
        reach = max(cur.ferry_km for cur in cs)
        curve_text = "; ".join(
            ", ".join(f"{p:,.0f} t over {r:,.0f} km" if p else f"ferry {r:,.0f} km" for p, r in cur.points)
            + f" ({cur.source_ids}, {cur.source_class})"
            for cur in cs
        )
        main = g.filter(pl.col("is_main_variant")).sort("distance_km", descending=True)
        rows = []
        for x in (main if main.height else g).iter_rows(named=True):
            low, high = payload.payload_interval(cs, x["distance_km"])
            rows.append((x, low, high))
        computed = [r for r in rows if payload.known(r[2])]
        beyond = [
            x for x in g.iter_rows(named=True) if payload.payload_interval(cs, x["distance_km"])[1] is None
        ]
        unknown = [r for r in rows if not payload.known(r[2]) and r[2] is not None]
        has_ferry = any(cur.is_complete for cur in cs)
        text = (
            f"Cited payload-range figures for the {name}: {curve_text}. Read linearly between the points, over "
            f"the great circle and over a path 10% longer."
            + (
                ""
                if has_ferry
                else " No cited figure gives a ferry range, so nothing is said past the last point."
            )
            + (
                " Longest reported hops the figures reach: "
                + "; ".join(
                    f"{x['from_name']} to {x['to_name']} {x['distance_km']:,.0f} km ({c.name(x['episode_id'])}): "
                    f"{_interval_text(lo, hi)}"
                    for x, lo, hi in computed[:3]
                )
                + "."
                if computed
                else ""
            )
        )
        if unknown:
            text += (
                f" Beyond the cited figures ({reach:,.0f} km), not computed: "
                + "; ".join(
                    f"{x['from_name']} to {x['to_name']} {x['distance_km']:,.0f} km"
                    for x, _, _ in unknown[:5]
                )
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                + "."
            )
        if beyond:
            text += (
                " Past the cited ferry range, so not flyable nonstop by these figures: "
                + "; ".join(
                    f"{x['from_name']} to {x['to_name']} {x['distance_km']:,.0f} km "
                    f"({c.name(x['episode_id'])}, {x['variant'].replace('-', ' ')} route)"
                    for x in beyond
                )
                + "."
            )
        if computed:
            x, wl, wh = computed[0]
            head = (
                f"Over its longest hop within the cited figures, {_short_place(x['from_name'])} to "
                f"{_short_place(x['to_name'])}, the {short} could carry {_interval_short(wl, wh)}."
            )
        else:
            x, wl, wh = rows[0]
            head = (
                f"The cited {short} figures reach {reach:,.0f} km, short of its longest reported hop of "
                f"{x['distance_km']:,.0f} km, so its payload there is not computed."
            )
        best = cs[0].source_class
        c.add(
            f"payload-{type_id}",
            "payload against range",
            f"{name}: payload over its longest hops",
            head,
            text,
            "payload_on_longest_hop_t",
            _num(wh),
            "t",
            sorted(set(g["episode_id"])),
            [f"core_legs:{x['leg_id']}" for x, _, _ in rows[:3]]
            + [f"core_type_ranges:{i}" for cur in cs for i in cur.range_ids],
            _ids([cur.source_ids for cur in cs] + [x["source_ids"] for x, _, _ in rows[:3]]),
            low=_num(wl),
            high=_num(wh),
            inferred=any(x["distance_basis"] == "inferred" for x, _, _ in rows[:3]),
            confidence=None if best in ("manufacturer", "official") else "low",
            why=(
                f"the best figures for the type come from {'the manufacturer or an official body' if best in ('manufacturer', 'official') else 'reference or weak pages'}"
                "; winds, reserves and the flown path change the real figure"
            ),
        )
    _payload_claims(c, cs_by_type, legs)


def _route_words(c: _Collector, episode_id: str, aircraft_id: str, variant: str) -> str:
    """A route as a reader names it: 'the route via Hmeimim air base and Dakar' (its staging stops)."""
    s = (
        c.t["core_stops"]
        .filter(
            (pl.col("episode_id") == episode_id)
            & (pl.col("aircraft_id") == aircraft_id)
            & (pl.col("variant") == variant)
        )
        .sort("seq")
    )
    staging = [
        _short_place(r["place_name"]) for r in s.iter_rows(named=True) if c.role.get(c.area(r)) == "staging"
    ]
    return (
        f"the route via {_list(list(dict.fromkeys(staging)))}"
        if staging
        else "the route with no stop reported"
    )


def _claim_loads(c: _Collector) -> list[dict]:
    """Cargo claims with a mass: stated tonnes, or named systems with sourced masses (units x mass)."""
    claims = c.t["core_claims"].filter(pl.col("kind").is_in(["cargo", "equipment"]))
    items = c.t.get("core_cargo_items")
    out = []
    for r in claims.iter_rows(named=True):
        mine = items.filter(pl.col("claim_id") == r["claim_id"]) if items is not None else None
        if r["quantity"] is not None and (r["unit"] or "").lower() in ("t", "tonnes", "tons"):
            out.append(
                {
                    "claim": r,
                    "load_t": float(r["quantity"]),
                    "how": f"{r['quantity']:g} t as claimed",
                    "units": [],
                    "sources": r["source_ids"],
                }
            )
        elif mine is not None and mine.height and mine["mass_t"].is_not_null().all():
            units = [
                (x["system_name"], x["units"] or 1, x["mass_t"], (x["length_m"], x["width_m"], x["height_m"]))
                for x in mine.iter_rows(named=True)
            ]
            load = sum(n * m for _, n, m, _ in units)
            how = " + ".join(f"{n} x {s} ({m:g} t)" for s, n, m, _ in units)
            counted = all(x["units"] is not None for x in mine.iter_rows(named=True))
            out.append(
                {
                    "claim": r,
                    "load_t": load,
                    "how": how + ("" if counted else ", at least one of each: the claim gives no count"),
                    "units": units,
                    "sources": _ids(
                        [r["source_ids"]] + mine["source_ids"].to_list() + mine["system_source_ids"].to_list()
                    ),
                }
            )
    return out


def _payload_claims(c: _Collector, cs_by_type: dict, legs: pl.DataFrame) -> None:
    aircraft = c.t["core_aircraft"]
    types = c.t["core_aircraft_types"]
    hold = {
        r["type_id"]: (r.get("hold_length_m"), r.get("hold_width_m"), r.get("hold_height_m"))
        for r in types.to_dicts()
    }
    for item in _claim_loads(c):
        r = item["claim"]
        ep = r["episode_id"]
        named = [
            a for a in ([r["aircraft_id"]] if r["aircraft_id"] else (r["aircraft_ids"] or "").split(";")) if a
        ]
        ids = (
            named
            or c.main_stops().filter(pl.col("episode_id") == ep)["aircraft_id"].unique().sort().to_list()
        )
        # a load the claim puts on several named aircraft is shared among them; a load on no named aircraft is
        # tested on each aircraft of the episode alone, and shared equally among them
        shares = (
            [(len(named), "shared among the aircraft the claim names")] if len(named) > 1 else [(1, "alone")]
        )
        if not named and len(ids) > 1:
            shares.append((len(ids), f"shared among the episode's {len(ids)} aircraft"))
        verdicts, evidence, fits_any, judged = [], [f"core_claims:{r['claim_id']}"], [], []
        variants_judged: set[str] = set()
        for ac in ids:
            a = aircraft.filter(pl.col("aircraft_id") == ac)
            if a.height == 0:
                continue
            t = a["type_id"][0]
            cs = cs_by_type.get(t)
            if not cs:
                verdicts.append(
                    f"on {_short_label(c, ac)} not computed (no cited payload-range curve for the "
                    f"{a['type_name'][0]})"
                )
                continue
            mine = legs.filter((pl.col("episode_id") == ep) & (pl.col("aircraft_id") == ac))
            per_var = []
            for (v,), vg in mine.group_by("variant", maintain_order=True):
                longest = vg.sort("distance_km", descending=True).row(0, named=True)
                low, high = payload.payload_interval(cs, longest["distance_km"])
                per_var.append((v, longest, low, high))
                evidence.append(f"core_legs:{longest['leg_id']}")
            per_var.sort(key=lambda x: (x[0] != "main", x[0]))
            for n, how in shares:
                load = item["load_t"] / n
                for v, longest, low, high in per_var:
                    verdict = payload.verdict(load, low, high)
                    verdicts.append(
                        f"on {_short_label(c, ac)} ({how}: {load:,.1f} t), {_route_words(c, ep, ac, v)}: "
                        f"{verdict} (longest hop {_short_place(longest['from_name'])} to "
                        f"{_short_place(longest['to_name'])} {longest['distance_km']:,.0f} km: "
                        f"{_interval_text(low, high)})"
                    )
                    if verdict == payload.VERDICTS[0]:
                        fits_any.append((ac, v, how))
                    if verdict in payload.VERDICTS[:4]:
                        judged.append((ac, v, verdict))
            variants_judged |= {v for _, v, _ in judged}
            if item["units"] and hold.get(t):
                ok = payload.fits_hold([d for _, n, _, d in item["units"] for _ in range(n)], hold[t])
                verdicts.append(
                    f"in the {a['type_name'][0]} hold the items {'fit' if ok else 'do not fit'} one behind "
                    "the other"
                    if ok is not None
                    else f"hold fit not computed (dimensions of the items or the {a['type_name'][0]} hold not sourced)"
                )
        if not judged:
            continue  # no route of the claim's aircraft is within the cited figures: nothing to say about the load
        labels = {ac: _short_label(c, ac) for ac, _, _ in judged}
        load = f"The {item['load_t']:,.0f} t claimed for {c.name(ep)}"
        close = [(ac, v) for ac, v, verdict in judged if verdict == payload.VERDICTS[1]]
        alone = [(ac, v) for ac, v, how in fits_any if how == "alone"]
        if alone:
            ways = _list(
                list(
                    dict.fromkeys(f"{labels.get(ac, ac)} on {_route_words(c, ep, ac, v)}" for ac, v in alone)
                )
            )
            options = [
                f"{load} fits the cited figures for {ways}.",
                f"{load} fits the cited figures for "
                f"{_list(list(dict.fromkeys(labels.get(ac, ac) for ac, _ in alone)))}.",
            ]
        elif fits_any:
            options = [f"{load} fits the cited figures only if shared among its aircraft."]
        elif close:
            options = [f"{load} fits the cited figures only if the flown path was close to the great circle."]
        else:
            options = [f"{load} does not fit the cited figures on any route they reach."]
        options.append(
            f"A claimed load of {item['load_t']:,.0f} t set against the cited figures: "
            + (
                "it fits."
                if fits_any
                else "it fits only if the path was close to the great circle."
                if close
                else "it does not fit."
            )
        )
        head = next((o for o in options if headline_problem(o) is None), options[-1])
        c.add(
            f"payload-claim-{r['claim_id']}",
            "payload against range",
            f"{item['load_t']:,.0f} t claimed: does it fit?",
            head,
            f"{r['claimant']} claims {r['subject'][0].lower() + r['subject'][1:].rstrip('.')} ({item['how']}). "
            + "; ".join(verdicts)
            + ". 'Fits' means the load is within the least payload the figures allow over a path "
            "10% longer than the great circle; the claim itself is unverified.",
            "claimed_load_t",
            item["load_t"],
            "t",
            [ep],
            evidence,
            _ids([item["sources"]] + [cur.source_ids for cs in cs_by_type.values() for cur in cs]),
            imprecise=True,
            key_bonus=0.5 if len(variants_judged) > 1 else 0.0,
            why="a claimed load against cited type figures; the claim is "
            + (r["verification"] or "unverified").replace("_", " "),
        )


# --- where a sanctioned airframe was on the ground ------------------------------------------------------------


def _sanctioned_ground(c: _Collector) -> None:
    sanctions = c.t["core_sanctions"].filter(pl.col("effective_earliest_utc").is_not_null())
    aircraft = c.t["core_aircraft"]
    stops = c.t["core_stops"].filter(pl.col("evidence") == "reported")
    hosts = c.t.get("core_host_statements")
    for ac in aircraft.iter_rows(named=True):
        hits = sanctions.filter(
            ((pl.col("target_table") == "aircraft") & (pl.col("target_id") == ac["aircraft_id"]))
            | ((pl.col("target_table") == "operators") & (pl.col("target_id") == (ac["operator_id"] or "")))
        )
        if hits.height == 0:
            continue
        first = hits.sort("effective_earliest_utc").row(0, named=True)
        since = first["effective_latest_utc"]
        later = [e for e, t in c.t0.items() if t is not None and t >= since]
        mine = stops.filter(
            (pl.col("aircraft_id") == ac["aircraft_id"])
            & pl.col("country").is_not_null()
            & pl.col("episode_id").is_in(later)
        )
        mine = mine.filter(~pl.col("country").is_in(c.home_countries()))
        if mine.height == 0:
            continue
        undated = sorted(
            {
                e
                for e in stops.filter(pl.col("aircraft_id") == ac["aircraft_id"])["episode_id"]
                if c.t0.get(e) is None
            }
        )
        per = (
            mine.group_by("country", "country_name")
            .agg(
                pl.col("episode_id").unique().sort(),
                pl.col("is_main_variant").any().alias("on_main"),
                pl.col("place_name").unique().sort(),
            )
            .sort("country_name")
        )
        bits, host_ids = [], []
        for r in per.iter_rows(named=True):
            trips = ", ".join(c.month(e) for e in r["episode_id"])
            text = f"{r['country_name']} ({trips}{'' if r['on_main'] else '; named in a disputed or alternative route only'})"
            if hosts is not None:
                hs = hosts.filter(
                    (pl.col("country") == r["country"]) & pl.col("episode_id").is_in(r["episode_id"])
                )
                if hs.height:
                    host_ids += hs["statement_id"].to_list()
                    text += ": " + "; ".join(
                        f"{h['authority']} ({h['kind'].replace('_', ' ')}): {h['about'].rstrip('.')}"
                        for h in hs.iter_rows(named=True)
                    )
            bits.append(text)
        n_main = per.filter(pl.col("on_main")).height
        c.add(
            f"on-the-ground-{ac['aircraft_id']}",
            "sanctioned airframe on the ground",
            f"{ac['label']}: reported on the ground in {per.height} countries after its designation",
            f"After its {'operator' + chr(39) + 's ' if first['target_table'] == 'operators' else ''}"
            f"{SANCTION_WORDS.get(first.get('kind') or 'other', SANCTION_WORDS['other'])[1]} "
            f"({display(first['effective_reported'])}), {_short_label(c, ac['aircraft_id'])} "
            f"was reported on the ground in {per.height} countries.",
            f"After {first['authority']} {SANCTION_WORDS.get(first.get('kind') or 'other', SANCTION_WORDS['other'])[0]} "
            f"{first['target_label']} ({display(first['effective_reported'])}), "
            f"{ac['label']} was reported on the ground in {per.height} countries outside "
            f"{_list(sorted({geo.country_name(h) or h for h in c.home_countries()}))} ({n_main} on the main routes): "
            + "; ".join(bits)
            + "."
            + (
                f" A host-state statement is on record for {len(set(host_ids))} of these stops; for the others no "
                "statement of the host state is in the evidence base, so nothing is said about permission."
                if host_ids
                else " No statement of a host state is in the evidence base, so nothing is said about "
                "permission."
            )
            + (f" Not counted (undated): {_list([c.name(e) for e in undated])}." if undated else ""),
            "countries_after_designation",
            per.height,
            "countries",
            sorted(set(mine["episode_id"])),
            [f"core_sanctions:{first['sanction_id']}"]
            + [f"core_stops:{s}" for s in mine["stop_id"]]
            + [f"core_host_statements:{h}" for h in host_ids],
            _ids([first["source_ids"]] + mine["source_ids"].to_list()),
            imprecise=True,
            weakest=min(len(c.origins(x)) for x in mine["source_ids"]),
            why="several stops are known only to the country, and some come from a single report",
        )


def _sanctions_at_flight_time(c: _Collector) -> None:
    stops = c.main_stops()
    aircraft = c.t["core_aircraft"]
    sanctions = c.t["core_sanctions"]
    starts = (
        stops.sort("seq")
        .group_by("episode_id", "aircraft_id", maintain_order=True)
        .agg(
            pl.min_horizontal(pl.col("dep_earliest_utc").min(), pl.col("arr_earliest_utc").min()).alias("t0"),
            pl.col("source_ids"),
            pl.col("stop_id").first().alias("first_stop"),
        )
        .sort("episode_id", "aircraft_id")
    )
    for r in starts.iter_rows(named=True):
        matches = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"]).to_dicts()
        if not matches:
            continue
        ac = matches[0]
        hits = sanctions.filter(
            ((pl.col("target_table") == "aircraft") & (pl.col("target_id") == ac["aircraft_id"]))
            | ((pl.col("target_table") == "operators") & (pl.col("target_id") == (ac["operator_id"] or "")))
        )
        dated = hits.filter(pl.col("effective_latest_utc").is_not_null()).sort("effective_earliest_utc")
        if dated.height == 0 or r["t0"] is None:
            continue
        first = dated.row(0, named=True)
        if first["effective_latest_utc"] > r["t0"]:
            continue
        days = _days(first["effective_latest_utc"], r["t0"])
        c.add(
            f"sanctioned-at-flight-{r['episode_id']}-{ac['aircraft_id']}",
            "sanctions at flight time",
            f"{ac['label']} flew under sanctions",
            f"{_short_label(c, ac['aircraft_id'])} had been under {first['authority_country_name'] or 'a'} "
            f"sanctions for about {days / 365.25:,.1f} years when it set out for "
            f"{c.name(r['episode_id']).split(' to ', 1)[-1]}.",
            f"When {ac['label']} set out on {c.name(r['episode_id'])} ({c.when(r['episode_id'])}), "
            f"{first['target_label']} had been under {first['authority']} sanctions since "
            f"{display(first['effective_reported'])}, about {days:,.0f} days earlier: {first['action']}",
            "days_under_sanction",
            round(days, 1),
            "days",
            [r["episode_id"]],
            [f"core_stops:{r['first_stop']}", f"core_sanctions:{first['sanction_id']}"],
            _ids([first["source_ids"]] + r["source_ids"]),
        )


# --- transponder off on crossings -----------------------------------------------------------------------------


def _transponder(c: _Collector) -> None:
    claims = c.t["core_claims"].filter(pl.col("kind") == "transponder")
    crossings = {(x["from_stop_id"], x["to_stop_id"]) for x in _crossings(c)}
    legs = c.t["core_legs"]
    if claims.height:
        bits, on_crossing = [], 0
        for r in claims.iter_rows(named=True):
            leg = None
            if r["from_stop_id"] and r["stop_id"]:
                m = legs.filter(
                    (pl.col("from_stop_id") == r["from_stop_id"]) & (pl.col("to_stop_id") == r["stop_id"])
                )
                leg = m.row(0, named=True) if m.height else None
            crossing = leg is not None and (leg["from_stop_id"], leg["to_stop_id"]) in crossings
            on_crossing += crossing
            where = (
                f"on the hop {leg['from_name']} to {leg['to_name']}"
                + (" (an ocean crossing)" if crossing else "")
                if leg
                else "hop not stated"
            )
            bits.append(
                f"{c.name(r['episode_id'])}: {r['subject'][0].lower() + r['subject'][1:].rstrip('.')} "
                f"({where}; {r['claimant']})"
            )
        eps = sorted(set(claims["episode_id"]))
        c.add(
            "transponder-reported",
            "transponder off on crossings",
            f"Transponder off reported in {len(eps)} episodes",
            f"Sources report the transponder switched off for part of the route on {_plural(len(eps), 'trip')}, "
            f"{on_crossing} of them on an ocean crossing.",
            f"On {_plural(len(eps), 'trip')} a source reports the transponder off for part of the route: "
            + "; ".join(bits)
            + f". {on_crossing} of these claims are tied to a specific ocean crossing; the others do "
            "not say which hop."
            + (
                " No observed flight record of these crossings is in the evidence base."
                if c.t["core_gaps"].height == 0
                else ""
            ),
            "episodes_with_transponder_claims",
            len(eps),
            "episodes",
            eps,
            [f"core_claims:{x}" for x in claims["claim_id"]],
            _ids(claims["source_ids"]),
            weakest=min(len(c.origins(x)) for x in claims["source_ids"]),
            why="reported claims (EFE and others citing Flightradar24), not observed records",
        )
    gaps = c.t["core_gaps"]
    for (ep,), g in gaps.group_by("episode_id", maintain_order=True):
        longest = g.sort("duration_min", descending=True).row(0, named=True)
        c.add(
            f"transponder-gaps-{ep}",
            "transponder gaps",
            f"{ep}: {g.height} gaps in observed coverage",
            f"Observed records of {c.name(ep)} have {_plural(g.height, 'coverage gap')}, the longest "
            f"{longest['duration_min'] / 60:,.1f} hours.",
            f"Observed records of {c.name(ep)} have {_plural(g.height, 'coverage gap')}; the longest lasted "
            f"{longest['duration_min'] / 60:,.1f} h and jumped {longest['jump_km']:,.0f} km.",
            "gap_count",
            g.height,
            "gaps",
            [ep],
            [f"core_gaps:{ep}"],
            "",
            confidence="moderate",
            why="observed flight records; a gap is a transponder off or a receiver out of range",
        )


# --- timing: context listed per episode, one test across episodes ---------------------------------------------


def _departures(c: _Collector) -> list[dict]:
    """Per dated episode: the first reported departure from an origin (or its first dated time)."""
    stops = c.main_stops()
    out = []
    for ep in c.summary["episode_id"].to_list():
        s = stops.filter(pl.col("episode_id") == ep)
        o = s.filter((pl.col("role") == "origin") & pl.col("dep_earliest_utc").is_not_null()).sort(
            "dep_earliest_utc"
        )
        if o.height:
            r = o.row(0, named=True)
            out.append(
                {
                    "episode_id": ep,
                    "lo": r["dep_earliest_utc"],
                    "hi": r["dep_latest_utc"],
                    "reported": r["dep_reported"],
                    "stop_id": r["stop_id"],
                    "source_ids": r["source_ids"],
                    "countries": set(s["country"].drop_nulls()) - set(c.home_countries()),
                    "aircraft": set(s["aircraft_id"]),
                }
            )
    return out


def _relevant(events: pl.DataFrame, concern: set[str]) -> pl.DataFrame:
    return events.filter(
        pl.col("concerns").str.split(";").list.set_intersection(sorted(concern)).list.len() > 0
    )


def _timing(c: _Collector) -> None:
    events = c.t["core_events"].filter(
        pl.col("concerns").is_not_null() & pl.col("start_latest_utc").is_not_null()
    )
    aircraft = c.t["core_aircraft"]
    deps = _departures(c)
    for d in deps:
        ops = set(
            aircraft.filter(pl.col("aircraft_id").is_in(list(d["aircraft"])))["operator_id"].drop_nulls()
        )
        concern = d["countries"] | d["aircraft"] | ops
        near = (
            _relevant(events, concern)
            .filter(
                (pl.col("start_earliest_utc") <= d["hi"] + CONTEXT_WINDOW)
                & (pl.col("start_latest_utc") >= d["lo"] - CONTEXT_WINDOW)
            )
            .sort("start_earliest_utc")
        )
        if near.height == 0:
            continue
        items = []
        for e in near.iter_rows(named=True):
            before = e["start_latest_utc"] <= d["lo"]
            after = e["start_earliest_utc"] >= d["hi"]
            rel = "before the departure" if before else ("after it" if after else "around the same days")
            items.append(f"{e['title']} ({display(e['start_reported'])}, {rel})")
        ep = d["episode_id"]
        c.add(
            f"context-{ep}",
            "context within 30 days",
            f"{c.name(ep)}: {near.height} context events within 30 days",
            f"{_plural(near.height, 'context event')} on record {'falls' if near.height == 1 else 'fall'} within 30 "
            f"days of the departure of {c.name(ep)}.",
            f"{c.name(ep)} left on {display(d['reported'])}. Context events within 30 days either side that concern "
            f"the same countries or actors: "
            + "; ".join(items)
            + ". Listed for context; nothing here says one "
            "led to the other.",
            "context_events",
            near.height,
            "events",
            [ep],
            [f"core_events:{e}" for e in near["event_id"]] + [f"core_stops:{d['stop_id']}"],
            _ids(list(near["source_ids"]) + [d["source_ids"]]),
            imprecise=True,
            why="the context events were gathered by the curators; a list, not a measurement",
        )
    _timing_test(c, events, deps)


def _nearest_before(starts: list[datetime], t: datetime) -> float:
    """Days from the latest start at or before t (capped at the look-back)."""
    best = float(TIMING_LOOKBACK.days)
    for s in starts:
        if s <= t:
            best = min(best, _days(s, t))
    return best


def _timing_test(c: _Collector, events: pl.DataFrame, deps: list[dict]) -> None:
    """Do departures follow escalation events more closely than nearby dates would?

    For each dated trip with at least one relevant escalation event within a year either side: the days from the
    nearest preceding one (capped at a year). The same for a random date within :data:`TIMING_LOOKBACK` of each
    real departure (the same years, the same event record), 2,000 times: p is the share of random sets whose mean
    is as small. Comparing each trip with its own neighbourhood keeps the test from merely finding that the
    curators gathered events in the years with flights.
    """
    kinds = [k for k in (c.study.get("escalation_event_kinds") or "").split(";") if k]
    if not kinds:
        return
    esc = events.filter(pl.col("kind").is_in(kinds))
    per = []
    for d in deps:
        starts = sorted(_relevant(esc, d["countries"])["start_latest_utc"].to_list())
        if any(abs(_days(s, d["lo"])) <= TIMING_LOOKBACK.days for s in starts):
            per.append((d, starts))
    if len(per) < TIMING_MIN_EPISODES:
        return
    observed = sum(_nearest_before(s, d["lo"]) for d, s in per) / len(per)
    window = TIMING_LOOKBACK.total_seconds()

    def draw(rng: random.Random) -> float:
        return sum(
            _nearest_before(s, d["lo"] + timedelta(seconds=(2 * rng.random() - 1) * window)) for d, s in per
        ) / len(per)

    p = permutation_p(observed, draw, n=2000)
    expected = sum(draw(random.Random(i)) for i in range(200)) / 200
    close = sum(1 for d, s in per if _nearest_before(s, d["lo"]) <= CONTEXT_WINDOW.days)
    words = (
        "departures followed escalation events more closely than nearby dates would"
        if p < 0.05
        else "departures followed escalation events no more closely than nearby dates would"
    )
    c.add(
        "departure-timing",
        "departure timing",
        "Departures against escalation events",
        f"Across {len(per)} dated trips, {words} (permutation test, p = {p:.2f}).",
        f"{_plural(len(per), 'dated trip')} have an escalation event ({', '.join(kinds)}) concerning a country they "
        f"visited within a year either side. From the nearest preceding such event to the departure: {observed:,.0f} "
        f"days on average (capped at {TIMING_LOOKBACK.days}); {_plural(close, 'trip')} left within "
        f"{CONTEXT_WINDOW.days} days of one. For random dates within a year of each departure the average is "
        f"{expected:,.0f} days; a mean as small as the real one came up in a share p = {p:.3f} of 2,000 random "
        f"sets. So {words}. {_plural(len(deps) - len(per), 'trip')} without such an event nearby are not counted.",
        "mean_days_after_escalation",
        round(observed, 1),
        "days",
        [d["episode_id"] for d, _ in per],
        [f"core_events:{e}" for e in esc["event_id"]] + [f"core_stops:{d['stop_id']}" for d, _ in per],
        _ids(list(esc["source_ids"])),
        imprecise=True,
        group_n=len(per),
        confidence="low",
        why="the context events were gathered by the curators around the flights, which can bias the test toward "
        "closeness; read it as a check, not as evidence of a link",
    )


# --- one airframe's repeated chain, recurring airframes -------------------------------------------------------


def _repeated_chain(c: _Collector) -> None:
    stops = c.main_stops().filter(pl.col("evidence") == "reported")
    events = c.t["core_events"].filter(
        pl.col("concerns").is_not_null() & pl.col("start_latest_utc").is_not_null()
    )
    kinds = [k for k in (c.study.get("escalation_event_kinds") or "").split(";") if k]
    for (ac,), g in stops.group_by("aircraft_id", maintain_order=True):
        trips = [e for e in dict.fromkeys(g.sort("arr_earliest_utc", nulls_last=True)["episode_id"])]
        if len(trips) < 3:
            continue
        chains: list[tuple[str, list[str], bool]] = []
        jumps: dict[str, list[str]] = {}
        dests: list[tuple[str, list[str]]] = []
        turns: list[str] = []
        follows: list[str] = []
        ev_ids: list[str] = []
        for ep in sorted(trips, key=lambda e: (c.t0.get(e) is None, c.t0.get(e) or datetime.min)):
            rows = g.filter(pl.col("episode_id") == ep).sort("seq").to_dicts()
            first_dest = next((r["seq"] for r in rows if c.role.get(c.area(r)) == "destination"), None)
            staging = [
                r
                for r in rows
                if c.role.get(c.area(r)) == "staging" and (first_dest is None or r["seq"] < first_dest)
            ]
            chain = [r["country_name"] or r["place_name"] for r in staging]
            inferred = any(r["order_basis"] == "inferred" for r in staging)
            chains.append((ep, chain, inferred))
            if staging:
                jumps.setdefault(staging[-1]["country_name"] or staging[-1]["place_name"], []).append(ep)
            dest_rows = [r for r in rows if c.role.get(c.area(r)) == "destination"]
            dests.append((ep, list(dict.fromkeys(_short_place(r["place_name"]) for r in dest_rows))))
            if dest_rows and dest_rows[0]["dwell_min_h"] is not None:
                lo, hi = dest_rows[0]["dwell_min_h"], dest_rows[0]["dwell_max_h"]
                turns.append(
                    f"{c.month(ep)} {lo / 24:,.1f}-{hi / 24:,.1f} days"
                    if hi is not None and round(lo) != round(hi)
                    else f"{c.month(ep)} {lo / 24:,.1f} days"
                )
            if c.t0.get(ep) is not None and kinds:
                t = c.t0[ep]
                countries = {r["country"] for r in rows if r["country"]} - set(c.home_countries())
                prior = _relevant(events.filter(pl.col("kind").is_in(kinds)), countries).filter(
                    (pl.col("start_latest_utc") <= t) & (pl.col("start_earliest_utc") >= t - CONTEXT_WINDOW)
                )
                if prior.height:
                    ev_ids += prior["event_id"].to_list()
                    follows.append(
                        f"{c.month(ep)}: "
                        + "; ".join(
                            f"{e['title']} ({display(e['start_reported'])})"
                            for e in prior.iter_rows(named=True)
                        )
                    )
        top_jump, top_eps = (
            sorted(jumps.items(), key=lambda kv: (-len(kv[1]), kv[0]))[0] if jumps else (None, [])
        )
        if len(top_eps) < 2:
            continue  # no stop repeats before the ocean: not a chain
        common = _common_pairs([ch for _, ch, _ in chains if ch])
        label = _short_label(c, ac)
        head = f"{label} made {len(trips)} reported trips to the region"
        if top_jump and len(top_eps) >= 2:
            head += f"; {len(top_eps)} left the Old World from {top_jump}"
        head += "."
        statement = (
            f"{label} made {len(trips)} reported trips: "
            + "; ".join(
                f"{c.month(ep)} via {' -> '.join(ch) or 'no staging stop reported'}"
                f"{' (order inferred)' if inf else ''}"
                for ep, ch, inf in chains
            )
            + ". "
            + (
                "Last stop before the ocean: "
                + "; ".join(f"{j} {len(v)}" for j, v in sorted(jumps.items(), key=lambda kv: -len(kv[1])))
                + ". "
                if jumps
                else ""
            )
            + (f"The same pair of consecutive staging countries recurs: {common}. " if common else "")
            + "Destinations: "
            + "; ".join(f"{c.month(ep)} {', '.join(d) or 'not reported'}" for ep, d in dests)
            + ". "
            + (f"Time at the first destination: {'; '.join(turns)}. " if turns else "")
            + (
                f"Escalation events on record in the 30 days before a trip (context, not cause): "
                f"{' | '.join(follows)}."
                if follows
                else ""
            )
        )
        c.add(
            f"repeated-chain-{ac}",
            "repeated chain",
            f"{label}: the same chain of stops, trip after trip",
            head,
            statement.strip(),
            "trips",
            len(trips),
            "trips",
            trips,
            [f"core_stops:{s}" for s in g["stop_id"]] + [f"core_events:{e}" for e in dict.fromkeys(ev_ids)],
            _ids(g["source_ids"].to_list()),
            imprecise=True,
            group_n=len(trips),
            inferred=any(inf for _, _, inf in chains),
            weakest=min(
                len(c.origins(_ids(g.filter(pl.col("episode_id") == e)["source_ids"]))) for e in trips
            ),
            why="identity by registration as reported; some stop orders are inferred from lists",
        )


def _common_pairs(chains: list[list[str]]) -> str:
    pairs: dict[tuple[str, str], int] = {}
    for ch in chains:
        for p in set(zip(ch, ch[1:], strict=False)):
            pairs[p] = pairs.get(p, 0) + 1
    rec = [(p, n) for p, n in pairs.items() if n >= 2]
    rec.sort(key=lambda x: (-x[1], x[0]))
    return "; ".join(f"{a} -> {b} on {n} trips" for (a, b), n in rec)


def _recurring(c: _Collector) -> None:
    stops = c.main_stops()
    summary = c.summary.select("episode_id", "first_time_utc", "last_time_utc")
    aircraft = c.t["core_aircraft"]
    per = (
        stops.group_by("aircraft_id")
        .agg(pl.col("episode_id").unique().alias("episodes"), pl.col("stop_id"), pl.col("source_ids"))
        .filter(pl.col("episodes").list.len() >= 2)
        .sort("aircraft_id")
    )
    for r in per.iter_rows(named=True):
        ac = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"]).row(0, named=True)
        eps = summary.filter(pl.col("episode_id").is_in(r["episodes"])).sort(
            "first_time_utc", nulls_last=True
        )
        dated = eps.filter(pl.col("first_time_utc").is_not_null())
        turns = []
        for a, b in zip(dated.iter_rows(named=True), list(dated.iter_rows(named=True))[1:], strict=False):
            if a["last_time_utc"] and b["first_time_utc"]:
                turns.append(
                    (a["episode_id"], b["episode_id"], _days(a["last_time_utc"], b["first_time_utc"]))
                )
        listing = ", ".join(f"{c.name(e)} ({c.when(e)})" for e in eps["episode_id"])
        turn = "; ".join(
            f"about {d:,.0f} days from the last reported time of {c.month(a)} to the first of {c.month(b)}"
            for a, b, d in turns
            if d > 0
        )
        unit = f" Unit: {ac['unit']}." if ac.get("unit") else ""
        label = _short_label(c, r["aircraft_id"])
        c.add(
            f"recurring-airframe-{r['aircraft_id']}",
            "recurring airframes",
            f"{ac['label']} recurs in {eps.height} episodes",
            f"{label[:1].upper() + label[1:]} ({_type_short(ac['type_name'])}) appears in {eps.height} episodes.",
            f"{ac['label']} ({ac['type_name']}, {ac['operator_name']}) appears in {eps.height} episodes: {listing}."
            + (f" Between trips (the time back home was at most this): {turn}." if turn else "")
            + unit,
            "episode_count",
            eps.height,
            "episodes",
            eps["episode_id"].to_list(),
            [f"core_stops:{s}" for s in r["stop_id"]],
            _ids(r["source_ids"]),
            why="identity by registration as reported; gaps between trips are upper bounds from reported times",
        )


# --- dwell, similarity, directness, reported figures, observed ------------------------------------------------


def _dwell(c: _Collector) -> None:
    summary = c.summary.filter(pl.col("dest_dwell_max_h").is_not_null())
    stops = c.t["core_stops"]
    for r in summary.iter_rows(named=True):
        dest = (
            stops.filter(
                (pl.col("episode_id") == r["episode_id"])
                & (pl.col("aircraft_id") == r["lead_aircraft_id"])
                & pl.col("is_main_variant")
                & (pl.col("role") == "destination")
            )
            .sort("seq")
            .row(0, named=True)
        )
        lo, hi, exact = r["dest_dwell_min_h"], r["dest_dwell_max_h"], r["dest_dwell_h"]
        if hi > 24 * 366:
            continue  # a stay longer than a year is not a dwell (an open-ended or impossible interval)
        text = (
            f"{exact:,.1f} hours"
            if exact is not None
            else f"between {lo:,.0f} and {hi:,.0f} hours ({lo / 24:,.1f} to {hi / 24:,.1f} days)"
        )
        place = _short_place(dest["place_name"])
        c.add(
            f"dest-dwell-{r['episode_id']}",
            "dwell at destination",
            f"{c.name(r['episode_id'])}: {text} at {place}",
            f"{_short_label(c, r['lead_aircraft_id'])} stayed at {place} for {text} ({c.month(r['episode_id'])}).",
            f"On {c.name(r['episode_id'])}, {r['lead_aircraft_label']} stayed at {dest['place_name']} for {text}: "
            f"arrived {display(dest['arr_reported'])}, left {display(dest['dep_reported'])}.",
            "dest_dwell_h",
            exact if exact is not None else (lo + hi) / 2,
            "hours",
            [r["episode_id"]],
            [f"core_stops:{dest['stop_id']}"],
            dest["source_ids"] or "",
            low=lo,
            high=hi,
            imprecise=exact is None,
        )


def _similarity(c: _Collector) -> None:
    sim = c.t["out_route_similarity"].filter(pl.col("is_comparable") & pl.col("is_alike"))
    if sim.height == 0:
        return
    eps = c.summary
    total = c.t["out_route_similarity"].filter(pl.col("is_comparable")).height
    for r in (
        sim.sort(["similarity", "episode_a", "episode_b"], descending=[True, False, False])
        .head(3)
        .iter_rows(named=True)
    ):
        a, b = r["episode_a"], r["episode_b"]
        src = _ids(eps.filter(pl.col("episode_id").is_in([a, b]))["source_ids"])
        same_jump = r["jump_off_score"] == 1

        def names(codes: str) -> str:
            return " -> ".join(geo.country_name(x) or x for x in codes.split(";") if x)

        c.add(
            f"route-similarity-{a}-{b}",
            "route similarity",
            f"{c.name(a)} and {c.name(b)} staged alike",
            f"{c.name(a)} and {c.name(b)} staged alike"
            + (f", both jumping off from {names(r['jump_off_a'])}" if same_jump else "")
            + ".",
            f"{c.name(a)} staged via {names(r['staging_a'])}; {c.name(b)} via "
            f"{names(r['staging_b'])}. Countries in order {r['country_score']:.2f}, corridors in order "
            f"{r['corridor_score']:.2f}, same jump-off {r['jump_off_score']:.0f}: similarity {r['similarity']:.2f} "
            f"(0-1; 'alike' from {ALIKE_THRESHOLD}). One of the {total} comparable pairs."
            + (" One route's stop order is our inference from a list." if r["order_inferred"] else ""),
            "route_similarity",
            r["similarity"],
            "score (0-1)",
            [a, b],
            [f"out_route_similarity:{a}|{b}"],
            src,
            inferred=bool(r["order_inferred"]),
            why="a score of our own making over the ordered staging countries, corridors and the jump-off",
        )


def _detour(c: _Collector) -> None:
    routes = c.t["out_route_summary"].filter(
        pl.col("is_main_variant")
        & (pl.col("evidence") == "reported")
        & pl.col("detour_factor").is_not_null()
        & (pl.col("outbound_staging_stops") >= 1)
    )
    legs = c.t["core_legs"]
    stops = c.t["core_stops"]
    for r in routes.sort("detour_factor", descending=True).iter_rows(named=True):
        mine = legs.filter(
            (pl.col("episode_id") == r["episode_id"])
            & (pl.col("aircraft_id") == r["aircraft_id"])
            & (pl.col("variant") == "main")
        )
        staging = stops.filter(
            (pl.col("episode_id") == r["episode_id"])
            & (pl.col("aircraft_id") == r["aircraft_id"])
            & pl.col("is_main_variant")
            & (pl.col("role") == "staging")
        )
        inferred_order = bool(mine["is_order_inferred"].any())
        c.add(
            f"detour-{r['episode_id']}-{r['aircraft_id']}",
            "route directness",
            f"{c.name(r['episode_id'])}: outbound {r['detour_factor']:.2f}x the direct distance",
            f"The outbound route of {_short_label(c, r['aircraft_id'])} to {_short_place(r['destination'])} "
            f"({c.month(r['episode_id'])}) was {r['detour_factor']:.2f} times the direct distance.",
            f"{_label(c, r['aircraft_id'])} flew {r['outbound_km']:,.0f} km great-circle from {r['origin']} to "
            f"{r['destination']} via {_plural(r['outbound_staging_stops'], 'staging stop')}, against "
            f"{r['direct_km']:,.0f} km direct: {r['detour_factor']:.2f} times."
            + (" The stop order is our inference, so this figure is too." if inferred_order else ""),
            "detour_factor",
            round(r["detour_factor"], 3),
            "ratio",
            [r["episode_id"]],
            [f"out_route_summary:{r['episode_id']}|{r['aircraft_id']}|main"]
            + [f"core_legs:{x}" for x in mine["leg_id"]],
            _ids(staging["source_ids"]),
            inferred=bool(r["uses_inferred_places"]) or inferred_order,
            weakest=min((len(c.origins(x)) for x in staging["source_ids"]), default=0),
            why="the confidence is that of the weakest-sourced staging stop: a source that reports only the "
            "destination says nothing of the route",
        )


_QUALIFIER_WORDS = {
    "about": "about",
    "more_than": "more than",
    "at_least": "at least",
    "less_than": "less than",
    "at_most": "at most",
    "exact": "",
}
#: a figure given as "about N" agrees with the geometry within this share (a rounded figure)
ABOUT_TOLERANCE = 0.05


def _reported_vs_geometry(c: _Collector) -> None:
    claims = c.t["core_claims"].filter(
        (pl.col("kind") == "flight_distance")
        & pl.col("quantity").is_not_null()
        & pl.col("stop_id").is_not_null()
        & pl.col("from_stop_id").is_not_null()
    )
    legs = c.t["core_legs"].filter(pl.col("distance_km").is_not_null())
    for r in claims.iter_rows(named=True):
        hits = legs.filter(
            (pl.col("from_stop_id") == r["from_stop_id"]) & (pl.col("to_stop_id") == r["stop_id"])
        )
        if hits.height == 0:
            continue
        leg = hits.row(0, named=True)
        km = r["quantity"] * (1.852 if (r["unit"] or "").lower() in ("nm", "nmi") else 1.0)
        gc = leg["distance_km"]
        q = r["qualifier"] or "exact"
        # a flown path is at least the great circle: which reported figures can a flight of that path have?
        if q in ("more_than", "at_least"):
            agrees, why = True, "a lower bound is consistent with any path at least the great circle"
        elif q in ("less_than", "at_most"):
            agrees = km >= gc
            why = (
                "an upper bound above the great circle is consistent"
                if agrees
                else "an upper bound below the great circle cannot hold for any flown path"
            )
        elif q == "about":
            agrees = km >= gc * (1 - ABOUT_TOLERANCE)
            why = (
                f"a rounded figure within {ABOUT_TOLERANCE:.0%} below the great circle, or above it, is consistent"
                if agrees
                else f"more than {ABOUT_TOLERANCE:.0%} below the great circle, even allowing for rounding"
            )
        else:
            agrees = km >= gc
            why = (
                "a flown path is at least the great circle"
                if agrees
                else "no flight is shorter than the great circle"
            )
        stated = f"{_QUALIFIER_WORDS.get(q, '')} {km:,.0f} km".strip()
        c.add(
            f"reported-distance-{r['claim_id']}",
            "reported figures against geometry",
            f"{leg['from_name']} to {leg['to_name']}: reported figure {'fits' if agrees else 'disagrees with'} the geometry",
            f"The reported {stated} from {_short_place(leg['from_name'])} to {_short_place(leg['to_name'])} "
            f"{'agrees' if agrees else 'disagrees'} with the {gc:,.0f} km great circle.",
            f"{r['claimant']} gives {stated} for {leg['from_name']} to {leg['to_name']} ({c.name(r['episode_id'])}); the "
            f"great-circle distance is {gc:,.0f} km: {'consistent' if agrees else 'a disagreement'} ({why}).",
            "reported_minus_great_circle_km",
            round(km - gc, 1),
            "km",
            [r["episode_id"]],
            [f"core_claims:{r['claim_id']}", f"core_legs:{leg['leg_id']}"],
            _ids([r["source_ids"], leg["source_ids"]]),
            inferred=leg["distance_basis"] == "inferred",
            disputed=not agrees,
        )


def _observed(c: _Collector) -> None:
    cmp_ = c.t["out_observed_vs_reported"]
    for (ep,), g in cmp_.group_by("episode_id", maintain_order=True):
        agree = g.filter(pl.col("status") == "agree").height
        c.add(
            f"observed-vs-reported-{ep}",
            "observed against reported",
            f"{ep}: {agree} of {g.height} stops agree",
            f"Observed flight records and reports agree on {agree} of {g.height} stops of {c.name(ep)}.",
            f"In {c.name(ep)}, observed flight records and reports agree on {agree} of {g.height} stops; "
            f"{g.filter(pl.col('status') == 'time_differs').height} differ in time, "
            f"{g.filter(pl.col('status') == 'not_observed').height} reported stops were not observed and "
            f"{g.filter(pl.col('status') == 'not_reported').height} observed stops were not reported.",
            "stops_agreeing",
            agree,
            "stops",
            [ep],
            [f"out_observed_vs_reported:{ep}"],
            _ids(g["source_ids"]),
            confidence="moderate",
            why="observed records set against reports",
        )


def _mark_key(df: pl.DataFrame) -> pl.DataFrame:
    """The index leads with one finding of each key category (the most important of it), in KEY_CATEGORIES order."""
    if df.height == 0:
        return df
    keys = []
    for cat in KEY_CATEGORIES:
        g = df.filter(pl.col("category") == cat).sort(["importance", "finding_id"], descending=[True, False])
        if g.height:
            keys.append(g["finding_id"][0])
    return df.with_columns(pl.col("finding_id").is_in(keys).alias("is_key"))


STEPS = (
    _route_corridors,
    _routes_by_period,
    _ocean_crossings,
    _payload,
    _sanctioned_ground,
    _sanctions_at_flight_time,
    _transponder,
    _timing,
    _repeated_chain,
    _recurring,
    _dwell,
    _similarity,
    _detour,
    _reported_vs_geometry,
    _observed,
)


def compute(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every finding, from the derived tables (see module docstring)."""
    c = _Collector(tables)
    for step in STEPS:
        step(c)
    df = pl.DataFrame(c.rows, schema=FINDINGS_SCHEMA) if c.rows else pl.DataFrame(schema=FINDINGS_SCHEMA)
    return _mark_key(df)


def key_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """The key findings in the order of the questions the study asks (:data:`KEY_CATEGORIES`)."""
    order = {c: i for i, c in enumerate(KEY_CATEGORIES)}
    return (
        findings.filter(pl.col("is_key"))
        .with_columns(pl.col("category").replace_strict(order, default=len(order)).alias("_o"))
        .sort(["_o", "importance", "finding_id"], descending=[False, True, False])
        .drop("_o")
    )


def summarize(findings: pl.DataFrame, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``out_summary``: what the study shows, as one paragraph of sentences, each tied to the findings it rests on.

    The first sentence says what the record holds (episodes by kind, sources and independent origins); each key
    finding adds its headline, in the order of :data:`KEY_CATEGORIES`.
    """
    key = key_findings(findings)
    eps = tables["out_episode_summary"]
    src = tables["core_sources"]
    episodes = tables["core_episodes"]
    dated = eps.filter(pl.col("first_time_utc").is_not_null())
    rows = []
    if eps.height:
        kinds: dict[str, int] = {}
        if "kind" in episodes.columns:
            for k in episodes["kind"].drop_nulls().to_list():
                kinds[k] = kinds.get(k, 0) + 1
        kinds_text = _list(
            [f"{n} {KIND_WORDS.get(k, k)}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])]
        )
        first: Any = dated["first_time_utc"].min() if dated.height else None
        last: Any = dated["first_time_utc"].max() if dated.height else None
        rows.append(
            {
                "seq": 1,
                "sentence": (
                    f"The record holds {_plural(eps.height, 'flight or operation', 'flights and operations')}"
                    + (f" from {first.year} to {last.year}" if first is not None else "")
                    + (f" ({kinds_text})" if kinds_text else "")
                    + f", reported by {src.height} sources that go back to {src['origin_id'].n_unique()} independent origins."
                ),
                "finding_ids": [],
            }
        )
    for r in key.iter_rows(named=True):
        rows.append({"seq": len(rows) + 1, "sentence": r["headline"], "finding_ids": [r["finding_id"]]})
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)
