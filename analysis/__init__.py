"""Russian state and military transport flights to Latin America: data, queries, charts.

The public API, by layer (each imports only the layers above it)::

    analysis.schema, analysis.timespec     what data/raw holds, and the reported-time grammar
    analysis.validate, analysis.build      raw -> data/derived (python -m analysis build)
    analysis.tracks, analysis.observed     ADS-B / OpenSky / Flightradar24 records -> observed legs
    analysis.discover                      day archives of global ADS-B -> candidate trips (local or Spark)
    analysis.queries                       DuckDB SQL over data/derived -> polars DataFrames
    analysis.findings, analysis.similarity cross-episode findings (computed at build time)
    analysis.charts, analysis.present      altair charts and escaped HTML pieces for notebooks
    analysis.report                        papermill notebooks -> offline site (python -m analysis report)

Typical use in another notebook::

    from analysis import Project, queries, charts
    legs = queries.legs("2025-10-caracas")                     # the study of this repository or $FLIGHTS_ROOT
    legs = queries.legs("2025-10-caracas", project="/path/to/study")  # or any folder holding data/raw
    charts.route_map(queries.leg_paths("2025-10-caracas"), queries.stops("2025-10-caracas"), queries.sources())
"""

from .paths import Project, StudyNotFoundError

__version__ = "0.1.0"
__all__ = ["__version__", "Project", "StudyNotFoundError"]
