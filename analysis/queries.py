"""Questions asked of the derived data: DuckDB SQL with bound parameters, answers as polars DataFrames.

Every function opens the current build (``data/derived/current/flights.duckdb``) read-only; pass
``project=Project(path)`` to read another study. Arguments are always bound as parameters, never pasted into
SQL text, and checked first: a wrong type is a :class:`QueryArgumentError` naming the argument.

A study folder is data, not code: the database is opened with external access off (it reads only the parquet
files its views name, beside it), extension autoloading and autoinstalling off and its configuration locked,
and its views are checked against what the build writes (one ``SELECT * FROM read_parquet('<table>.parquet')``
per derived table, nothing else) before any query runs. :func:`sql` runs one ``SELECT`` (or ``EXPLAIN``)
statement: no ``COPY``/``EXPORT`` (writing files), ``INSTALL``/``LOAD``, ``ATTACH``, ``SET``/``RESET``/``PRAGMA``
or anything else that would change the shared connection (:class:`UnsafeQueryError`).

>>> from analysis import queries
>>> queries.episode_ids()[:2]  # doctest: +SKIP
['2008-09-tu160-venezuela', '2018-12-tu160-venezuela']
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from .paths import Project, as_project, study_not_found

__all__ = [
    "UnknownEpisodeError",
    "QueryArgumentError",
    "UnsafeQueryError",
    "DatabaseLockedError",
    "UntrustedDatabaseError",
    "connect",
    "sql",
    "episodes",
    "episode_ids",
    "check_episodes",
    "episode",
    "stops",
    "legs",
    "leg_paths",
    "route_summary",
    "episode_summary",
    "timeline",
    "claims",
    "conflicts",
    "study",
    "sources",
    "sources_for",
    "aircraft",
    "sanctions",
    "findings",
    "route_similarity",
    "observed_vs_reported",
    "gaps",
    "places",
    "table",
    "key_findings",
    "study_summary",
    "names",
]


class UnknownEpisodeError(ValueError):
    """An episode id that the data does not have; the message lists the valid ids."""


class QueryArgumentError(ValueError):
    """An argument of a query function of the wrong type or value; the message names it and what was expected."""


class UnsafeQueryError(ValueError):
    """SQL given to :func:`sql` that is not one read-only query (COPY, SET, ATTACH, INSTALL...)."""


class DatabaseLockedError(RuntimeError):
    """flights.duckdb is held open for writing by another process (e.g. the DuckDB command line without -readonly)."""


class UntrustedDatabaseError(ValueError):
    """A flights.duckdb whose contents are not what the build writes (a view changed or added)."""


_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}
_DATABASES_LOCK = threading.Lock()
#: the only statements :func:`sql` runs (one per call)
_READ_ONLY = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def _view_sql(name: str) -> str:
    """The definition of a derived table's view as the build writes it and DuckDB stores it."""
    return f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{name}.parquet');"


def _check_database(con: duckdb.DuckDBPyConnection, db: Path) -> list[str]:
    """The database (attached as ``flights``) holds what the build writes, nothing else: one view per derived table
    over its parquet file, no tables, macros or other views (a view reading another file, or a macro, would run as
    part of every query). Returns the view names."""
    from .build import DERIVED_TABLES

    views = dict(
        con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND database_name = 'flights'"
        ).fetchall()
    )
    problems = [
        f"view {name!r} is not one of the build's tables" for name in sorted(set(views) - set(DERIVED_TABLES))
    ]
    problems += [
        f"view {name!r} is not the build's view over {name}.parquet (it is {str(views[name])[:80]!r})"
        for name in sorted(set(views) & set(DERIVED_TABLES))
        if views[name] != _view_sql(name)
    ]
    others = con.execute("""
        SELECT 'table ' || table_name FROM duckdb_tables() WHERE database_name = 'flights'
        UNION ALL SELECT function_type || ' ' || function_name FROM duckdb_functions()
            WHERE database_name = 'flights' AND NOT internal
        UNION ALL SELECT 'sequence ' || sequence_name FROM duckdb_sequences() WHERE database_name = 'flights'
        UNION ALL SELECT 'type ' || type_name FROM duckdb_types() WHERE database_name = 'flights' AND NOT internal
        """).fetchall()
    problems += [f"{r[0]} is not something the build writes" for r in others]
    if problems:
        raise UntrustedDatabaseError(
            f"{db}: expected the database the build writes (one view per derived table over its parquet file), got: "
            + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            + ". It is not used; rebuild it with `make data` (python -m analysis build --force)"
        )
    return sorted(views)


def _open(real: Path) -> duckdb.DuckDBPyConnection:
    """A connection that reads a build as data.

    The build's ``flights.duckdb`` is attached read-only and its views are checked (:func:`_check_database`), then
    detached; the connection's own views read the same parquet files by absolute path (the build's views name them
    relative to the database, which a locked-down connection would resolve against the working directory). Then
    external access is turned off except for the build folder, extension autoloading and autoinstalling are off, and
    the configuration is locked (no SET, RESET or PRAGMA can change it)."""
    from .build import sql_identifier, sql_literal

    con = duckdb.connect(
        ":memory:", config={"autoload_known_extensions": False, "autoinstall_known_extensions": False}
    )
    try:
        try:
            con.execute("ATTACH ? AS flights (READ_ONLY)", [real.as_posix()])
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                pid = re.search(r"PID (\d+)", text)
                holder = f"process {pid.group(1)}" if pid else "another process"
                raise DatabaseLockedError(
                    f"{real}: held open for writing by {holder} (the DuckDB command line opens a database read-write "
                    "unless started with -readonly); close that session, or open the database with "
                    "`duckdb -readonly flights.duckdb`, then run this again"
                ) from None
            raise
        views = _check_database(con, real)
        con.execute("DETACH flights")
        folder = real.parent.as_posix()
        con.execute("SET allowed_directories = ?", [[folder + "/"]])  # the build folder, nothing else
        for name in views:
            con.execute(
                f"CREATE VIEW {sql_identifier(name)} AS SELECT * FROM read_parquet("
                f"{sql_literal(folder + '/' + name + '.parquet')})"
            )
        con.execute("SET GLOBAL file_search_path = ?", [folder])
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _database(db: Path) -> duckdb.DuckDBPyConnection:
    """One read-only DuckDB connection per build folder, opened once per process and reused.

    The key is the resolved build folder: when ``current`` moves to a new build, the next query opens that build
    (and the connection to the old one is closed).
    """
    if not db.exists():
        raise FileNotFoundError(f"{db} does not exist: build the data first (make data)")
    real = db.resolve()
    key = real.as_posix()
    with _DATABASES_LOCK:
        con = _DATABASES.get(key)
        if con is None:
            for old_key in [k for k in _DATABASES if Path(k).parent.parent == real.parent.parent]:
                _DATABASES.pop(old_key).close()  # an older build of the same study
            con = _open(real)
            _DATABASES[key] = con
        return con


# --- argument checks: a wrong type is a named error, never a traceback from deep inside DuckDB ------------------


def _bad(name: str, expected: str, value: Any) -> QueryArgumentError:
    return QueryArgumentError(
        f"argument {name!r}: expected {expected}, got {type(value).__name__} {value!r:.60}"
    )


def _check_project(project: Any) -> None:
    if project is not None and not isinstance(project, Project | str | os.PathLike):
        raise _bad("project", "an analysis.Project, a study folder (str or path) or None", project)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, "True or False", value)
    return value


def _check_text(name: str, value: Any, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(name, "text" + (" or None" if optional else ""), value)
    return value


def _check_number(name: str, value: Any) -> float | None:
    import math

    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _bad(name, "a finite number of days, 0 or more, or None", value)
    return value


@contextmanager
def connect(project: Project | str | os.PathLike | None = None):
    """A read-only DuckDB connection to the current build (views resolve next to the database file).

    The database is opened once per process; each ``connect`` hands out a cheap cursor on it, so threads do not
    share one cursor.
    """
    _check_project(project)
    project = as_project(project)
    if not project.database.exists():
        raise study_not_found(project, built=True)
    cur = _database(project.database).cursor()
    try:
        yield cur
    finally:
        cur.close()


def _check_query(con: duckdb.DuckDBPyConnection, query: Any) -> None:
    if not isinstance(query, str):
        raise _bad("query", "SQL text", query)
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryArgumentError(
            f"argument 'query': expected one SQL query, got text DuckDB cannot parse "
            f"({str(exc).splitlines()[0]})"
        ) from None
    if len(statements) != 1:
        raise UnsafeQueryError(f"query: expected exactly one SQL statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in _READ_ONLY:
        raise UnsafeQueryError(
            f"query: expected one read-only query (SELECT, WITH ... SELECT, FROM ..., EXPLAIN), got a statement "
            f"of type {kind.name}; queries.sql() cannot write files (COPY, EXPORT), load extensions (INSTALL, "
            "LOAD), attach databases or change the shared connection's settings (SET, RESET, PRAGMA, USE)"
        )


def sql(
    query: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Run one read-only SQL query against the derived tables, parameters bound (``?`` or ``$name``)."""
    if params is not None and (isinstance(params, str | bytes) or not isinstance(params, Sequence | dict)):
        raise _bad("params", "a list of values (for ?) or a dict (for $name), or None", params)
    with connect(project) as con:
        _check_query(con, query)
        try:
            return con.sql(query, params=params or None).pl()
        except duckdb.PermissionException as exc:
            raise UnsafeQueryError(
                f"query: reads or writes outside the study's derived tables ({exc})"
            ) from None


def table(name: str, project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """A whole derived table by name (names are checked against the database, never pasted unchecked)."""
    _check_text("name", name, optional=False)
    with connect(project) as con:
        names = [
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        ]
        if name not in names:
            raise ValueError(f"unknown table {name!r}; expected one of {', '.join(sorted(names))}")
        return con.sql(f'SELECT * FROM "{name}"').pl()


def _ids(ids: str | Sequence[str] | None, name: str = "episode_ids") -> list[str] | None:
    if ids is None:
        return None
    if isinstance(ids, str):
        return [ids]
    if (
        isinstance(ids, bytes | dict)
        or not isinstance(ids, Sequence | set | frozenset)
        or not all(isinstance(i, str) for i in ids)
    ):
        raise _bad(name, "an id (text), a list of ids or None", ids)
    return list(ids)


def episodes(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """Every episode with its summary, in time order (undated episodes last)."""
    return sql(
        "SELECT * FROM out_episode_summary ORDER BY first_time_utc NULLS LAST, episode_id", project=project
    )


def episode_ids(project: Project | str | os.PathLike | None = None) -> list[str]:
    """Valid episode ids, in time order."""
    return episodes(project)["episode_id"].to_list()


def check_episodes(ids: str | Sequence[str], project: Project | str | os.PathLike | None = None) -> list[str]:
    """Return the ids as a list, or raise :class:`UnknownEpisodeError` listing the valid ones."""
    wanted = _ids(ids) or []
    valid = episode_ids(project)
    unknown = [i for i in wanted if i not in valid]
    if unknown or not wanted:
        raise UnknownEpisodeError(
            f"unknown episode id(s) {', '.join(map(repr, unknown)) or '(none given)'}; valid ids are: {', '.join(valid)}"
        )
    return wanted


def episode(episode_id: str, project: Project | str | os.PathLike | None = None) -> dict:
    """One episode's summary row as a dict (raises :class:`UnknownEpisodeError`)."""
    _check_text("episode_id", episode_id, optional=False)
    check_episodes(episode_id, project)
    return sql("SELECT * FROM out_episode_summary WHERE episode_id = ?", [episode_id], project).row(
        0, named=True
    )


def stops(
    episode_ids: str | Sequence[str] | None = None,
    main_only: bool = True,
    evidence: str | None = None,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Stops in route order (the main route first, then the variants some sources report): where each aircraft was, when (UTC interval and precision), and for how long."""
    _check_bool("main_only", main_only), _check_text("evidence", evidence)
    return sql(
        """
        SELECT * FROM core_stops
        WHERE ($ids IS NULL OR list_contains($ids, episode_id))
          AND (NOT $main_only OR is_main_variant)
          AND ($evidence IS NULL OR evidence = $evidence)
        ORDER BY episode_id, aircraft_id, NOT is_main_variant, variant, evidence, seq
    """,
        {"ids": _ids(episode_ids), "main_only": main_only, "evidence": evidence},
        project,
    )


def legs(
    episode_ids: str | Sequence[str] | None = None,
    main_only: bool = True,
    evidence: str | None = None,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Legs with great-circle distance (km) and duration bounds (h)."""
    _check_bool("main_only", main_only), _check_text("evidence", evidence)
    return sql(
        """
        SELECT * FROM core_legs
        WHERE ($ids IS NULL OR list_contains($ids, episode_id))
          AND (NOT $main_only OR is_main_variant)
          AND ($evidence IS NULL OR evidence = $evidence)
        ORDER BY episode_id, aircraft_id, NOT is_main_variant, variant, evidence, leg_seq
    """,
        {"ids": _ids(episode_ids), "main_only": main_only, "evidence": evidence},
        project,
    )


def leg_paths(
    episode_ids: str | Sequence[str] | None = None,
    main_only: bool = True,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Points along each leg's great circle, for maps."""
    _check_bool("main_only", main_only)
    return sql(
        """
        SELECT p.*, l.from_name, l.to_name, l.distance_km, l.source_ids
        FROM core_leg_paths p JOIN core_legs l USING (leg_id)
        WHERE ($ids IS NULL OR list_contains($ids, p.episode_id)) AND (NOT $main_only OR l.is_main_variant)
        ORDER BY p.leg_id, p.point_seq
    """,
        {"ids": _ids(episode_ids), "main_only": main_only},
        project,
    )


def route_summary(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Per route (episode, aircraft, variant, evidence): distances, detour factor, stops, countries."""
    return sql(
        """
        SELECT * FROM out_route_summary WHERE ($ids IS NULL OR list_contains($ids, episode_id))
        ORDER BY episode_id, aircraft_id, NOT is_main_variant, variant, evidence
    """,
        {"ids": _ids(episode_ids)},
        project,
    )


def episode_summary(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Per episode: aircraft, arrival, dwell at destination, distances, staging countries, conflicts."""
    return sql(
        """
        SELECT * FROM out_episode_summary WHERE ($ids IS NULL OR list_contains($ids, episode_id))
        ORDER BY first_time_utc NULLS LAST, episode_id
    """,
        {"ids": _ids(episode_ids)},
        project,
    )


def timeline(
    episode_ids: str | Sequence[str] | None = None,
    context: bool = True,
    around_days: float | None = None,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Flight milestones of the episodes plus context events and sanctions, as UTC intervals.

    With ``around_days``, context items are kept only within that many days of the episodes' milestones.
    """
    _check_bool("context", context), _check_number("around_days", around_days)
    return sql(
        """
        WITH span AS (
            SELECT min(earliest_utc) AS t0, max(latest_utc) AS t1 FROM out_timeline
            WHERE episode_id IS NOT NULL AND ($ids IS NULL OR list_contains($ids, episode_id))
        )
        SELECT t.* FROM out_timeline t, span
        WHERE (t.episode_id IS NOT NULL AND ($ids IS NULL OR list_contains($ids, t.episode_id)))
           OR ($context AND t.episode_id IS NULL AND ($days IS NULL OR (
                t.latest_utc >= span.t0 - to_days(CAST($days AS INTEGER))
                AND t.earliest_utc <= span.t1 + to_days(CAST($days AS INTEGER)))))
        ORDER BY t.earliest_utc, t.item_id
    """,
        {"ids": _ids(episode_ids), "context": context, "days": around_days},
        project,
    )


def claims(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Claims about cargo, personnel and flights: who claims what, how verified."""
    return sql(
        "SELECT * FROM core_claims WHERE ($ids IS NULL OR list_contains($ids, episode_id)) ORDER BY claim_id",
        {"ids": _ids(episode_ids)},
        project,
    )


def conflicts(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Every side of every disagreement between sources (optionally for some episodes)."""
    return sql(
        """
        SELECT * FROM core_conflicts WHERE ($ids IS NULL OR list_contains($ids, episode_id))
        ORDER BY conflict_id, position_id
    """,
        {"ids": _ids(episode_ids)},
        project,
    )


def study(project: Project | str | os.PathLike | None = None) -> dict:
    """What the study is about (data/raw/study.csv): title, subtitle, period, home countries, destination region."""
    df = sql("SELECT * FROM core_study", project=project)
    return df.row(0, named=True) if df.height else {"title": "Flights study", "subtitle": None}


def sources(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """The bibliography."""
    return sql("SELECT * FROM core_sources ORDER BY source_id", project=project)


def sources_for(
    source_ids: str | Sequence[str] | None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """The sources behind a ';'-separated id list (as fact rows carry) or a list of ids."""
    ids = [
        s
        for s in (
            source_ids.split(";") if isinstance(source_ids, str) else (_ids(source_ids, "source_ids") or [])
        )
        if s
    ]
    return sql(
        "SELECT * FROM core_sources WHERE list_contains(?, source_id) ORDER BY source_id", [ids], project
    )


def aircraft(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """Airframes with type, operator, and capacity/range where a source gives them."""
    return sql("SELECT * FROM core_aircraft ORDER BY aircraft_id", project=project)


def sanctions(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """Sanctions with their effective dates (null where only relayed)."""
    return sql(
        "SELECT * FROM core_sanctions ORDER BY effective_earliest_utc NULLS LAST, sanction_id",
        project=project,
    )


def findings(
    episode_ids: str | Sequence[str] | None = None,
    category: str | None = None,
    project: Project | str | os.PathLike | None = None,
) -> pl.DataFrame:
    """Cross-episode findings: statement, value, evidence rows and sources."""
    _check_text("category", category)
    return sql(
        """
        SELECT * FROM out_findings
        WHERE ($ids IS NULL OR len(list_intersect($ids, string_split(episode_ids, ';'))) > 0)
          AND ($category IS NULL OR category = $category)
        ORDER BY category, finding_id
    """,
        {"ids": _ids(episode_ids), "category": category},
        project,
    )


def route_similarity(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Pairwise route similarity; with ids, only pairs where both episodes are among them."""
    return sql(
        """
        SELECT * FROM out_route_similarity
        WHERE $ids IS NULL OR (list_contains($ids, episode_a) AND list_contains($ids, episode_b))
        ORDER BY similarity DESC NULLS LAST
    """,
        {"ids": _ids(episode_ids)},
        project,
    )


def observed_vs_reported(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Stop-by-stop agreement of observed and reported routes, where an episode has both."""
    return sql(
        """
        SELECT * FROM out_observed_vs_reported WHERE ($ids IS NULL OR list_contains($ids, episode_id))
        ORDER BY episode_id, aircraft_id, coalesce(reported_arr_earliest_utc, observed_arr_utc)
    """,
        {"ids": _ids(episode_ids)},
        project,
    )


def gaps(
    episode_ids: str | Sequence[str] | None = None, project: Project | str | os.PathLike | None = None
) -> pl.DataFrame:
    """Transponder/coverage gaps in observed records."""
    return sql(
        "SELECT * FROM core_gaps WHERE ($ids IS NULL OR list_contains($ids, episode_id)) ORDER BY start_utc",
        {"ids": _ids(episode_ids)},
        project,
    )


def places(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """Places with their precision, location and any inferred airport."""
    return sql("SELECT * FROM core_places ORDER BY place_id", project=project)


def key_findings(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """The findings the index leads with (``is_key``), in the index's order (the questions of
    :data:`analysis.findings.KEY_CATEGORIES`: one order, kept in one place)."""
    from .findings import key_findings as in_order

    return in_order(sql("SELECT * FROM out_findings WHERE is_key", project=project))


def study_summary(project: Project | str | os.PathLike | None = None) -> pl.DataFrame:
    """The generated summary of what the study shows: ``seq``, ``sentence``, ``finding_ids`` (a list)."""
    return sql("SELECT seq, sentence, finding_ids FROM out_summary ORDER BY seq", project=project)


def names(project: Project | str | os.PathLike | None = None) -> dict[str, str]:
    """Words for ids, for chart legends and labels: every episode id -> a short title with its month, every
    aircraft id -> its registration or name, or (unidentified airframes) its type, operator and letter."""
    out: dict[str, str] = {}
    eps = sql("SELECT episode_id, title, first_time_utc FROM out_episode_summary", project=project)
    months = r"(,| in| of)? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}$|,? \d{4}$"
    for r in eps.iter_rows(named=True):
        title = re.sub(months, "", (r["title"] or r["episode_id"]).strip()).strip(" ,")
        when = r["first_time_utc"].strftime("%b %Y") if r["first_time_utc"] else "undated"
        title = title if len(title) <= 44 else title[:43].rstrip(" ,;:") + "…"
        out[r["episode_id"]] = f"{when}: {title}"
    air = sql(
        "SELECT aircraft_id, registration, name, type_name, operator_name FROM core_aircraft", project=project
    )
    for r in air.iter_rows(named=True):
        if r["registration"] or r["name"]:
            out[r["aircraft_id"]] = " ".join(
                x for x in (r["registration"], f"'{r['name']}'" if r["name"] else None) if x
            )
            continue
        kind = re.sub(
            r"^(Ilyushin|Antonov|Tupolev|Sukhoi) | \(.*\)$", "", r["type_name"] or "aircraft"
        ).strip()
        letter = r["aircraft_id"].rsplit("-", 1)[-1]
        op = (r["operator_name"] or "").split(" (")[0].removesuffix(" of Russia")
        out[r["aircraft_id"]] = (
            f"{op + ' ' if op else ''}{kind}"
            + (f" ({letter})" if len(letter) == 1 else "")
            + ", registration unknown"
        )
    return out
