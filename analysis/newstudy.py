"""``python -m analysis new-study PATH``: an empty study folder, ready to fill with rows.

It holds every raw table of :mod:`analysis.schema` as a CSV with its header, a study table filled with
placeholders to edit, the basemap and its provenance, a provenance record per table (unreviewed until
``accept-raw``) and a README of the next steps. ``validate`` on it then names the first rows to write.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from . import schema
from .paths import PACKAGE_DIR

__all__ = ["new_study", "NEXT_STEPS"]

NEXT_STEPS = """# {title}

A study folder for the flights toolkit (`analysis`). Every fact is a row of a CSV file in `data/raw`; the
columns and rules of each file are in the toolkit's docs/evidence.md.

Next steps:

1. Edit `data/raw/study.csv`: the title, the period, the home countries the flights come from (ISO codes such as
   IR;SY) and the name of the destination region.
2. Classify the countries of your routes in `data/raw/corridors.csv`: one row per country, role `home`,
   `destination` (the region the study is about) or `staging` (in between), and for staging countries the kind of
   ocean crossing that starts there (`jump_off`).
3. Add your sources to `sources.csv`, the places to `places.csv` (an ICAO code for an airport), the aircraft to
   `aircraft_types.csv` / `aircraft.csv`, each flight to `episodes.csv` and its route to `stops.csv`.
4. Check: `FLIGHTS_ROOT={root} python -m analysis validate`. Every problem is named by file, line and field.
5. Record the reviewed files: `FLIGHTS_ROOT={root} python -m analysis accept-raw`.
6. Build and report: `FLIGHTS_ROOT={root} python -m analysis report` (pages in `reports/`), or in Python
   `analysis.queries.legs(project=analysis.Project("{root}"))`.
"""

_PLACEHOLDER = {
    "study_id": "new-study",
    "title": "A new study (edit data/raw/study.csv)",
    "subtitle": "",
    "period_start": "2020-01",
    "period_end": "2025-12",
    "home_countries": "",
    "destination_region": "",
    "languages": "en",
    "period_event_ids": "",
    "escalation_event_kinds": "",
    "notes": "Placeholders written by new-study: edit every field.",
}


def new_study(path: Path) -> list[Path]:
    """Create the study folder at ``path`` (which must not exist or be empty); returns the files written."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(
            f"{path}: expected a new or empty folder for the study (it holds files already)"
        )
    raw = path / "data" / "raw"
    (raw / "basemap").mkdir(parents=True, exist_ok=True)
    (path / "data" / "derived").mkdir(parents=True, exist_ok=True)
    written = []
    for t in schema.TABLES:
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=t.column_names, lineterminator="\n")
        w.writeheader()
        if t.name == "study":
            w.writerow(_PLACEHOLDER)
        f = raw / f"{t.name}.csv"
        f.write_text(out.getvalue(), encoding="utf-8")
        (raw / f"{t.name}.csv.provenance.json").write_text(
            json.dumps(
                {
                    "what": f"Raw table '{t.name}': {t.description}",
                    "origin": "Curated by hand for this study from the sources listed in data/raw/sources.csv.",
                    "licence": "state the licence of this curation",
                    "sha256": "",
                    "bytes": 0,
                    "recorded_utc": "",
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        written.append(f)
    for name in ("countries-110m.json", "countries-110m.json.provenance.json"):
        shutil.copyfile(PACKAGE_DIR / "assets" / "basemap" / name, raw / "basemap" / name)
        written.append(raw / "basemap" / name)
    readme = path / "README.md"
    readme.write_text(NEXT_STEPS.format(title=_PLACEHOLDER["title"], root=path.resolve()), encoding="utf-8")
    written.append(readme)
    return written
