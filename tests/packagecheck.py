"""Structural checks of a Frictionless Data Package descriptor (datapackage.json) against the Data Package and
Table Schema rules that can be checked without a network: names, paths that exist, standard field types and
formats, constraints that fit their field's type, primary and foreign keys that name existing fields and
resources, and the file's own columns (a CSV header, a parquet schema) equal to the declared fields in order.

The ``frictionless`` package would check the same and more, but it brings some twenty dependencies; these checks
are the rules the project's descriptors can break. :func:`problems` returns one text per problem (empty: valid).
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path, PurePosixPath

#: Table Schema field types, and the formats each allows besides "default"
TYPES: dict[str, set[str]] = {
    "string": {"email", "uri", "binary", "uuid"},
    "number": set(),
    "integer": set(),
    "boolean": set(),
    "object": set(),
    "array": set(),
    "date": {"any"},
    "time": {"any"},
    "datetime": {"any"},
    "year": set(),
    "yearmonth": set(),
    "duration": set(),
    "geopoint": {"array", "object"},
    "geojson": {"topojson"},
    "any": set(),
}
_CONSTRAINTS: dict[str, set[str] | None] = {  # constraint -> the field types it applies to (None: any)
    "required": None,
    "unique": None,
    "enum": None,
    "minLength": {"string", "array", "object"},
    "maxLength": {"string", "array", "object"},
    "pattern": {"string"},
    "minimum": {"number", "integer", "date", "time", "datetime", "year", "yearmonth", "duration"},
    "maximum": {"number", "integer", "date", "time", "datetime", "year", "yearmonth", "duration"},
}
_NAME = re.compile(r"^[a-z0-9._-]+$")
_PROFILES = {"data-package", "tabular-data-package"}


def _keys(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def _field_problems(where: str, f: dict) -> list[str]:
    out = []
    typ = f.get("type", "string")
    if not isinstance(f.get("name"), str) or not f["name"]:
        out.append(f"{where}: a field without a name")
    if typ not in TYPES:
        out.append(f"{where}: type {typ!r} is not a Table Schema type")
        return out
    fmt = f.get("format", "default")
    if fmt != "default" and fmt not in TYPES[typ]:
        out.append(f"{where}: format {fmt!r} is not one of type {typ!r}")
    for k in ("trueValues", "falseValues"):
        if k in f and (typ != "boolean" or not all(isinstance(v, str) for v in f[k])):
            out.append(f"{where}: {k} belongs to a boolean field and lists strings")
    if "description" in f and not (isinstance(f["description"], str) and f["description"].strip()):
        out.append(f"{where}: an empty description")
    cons = f.get("constraints", {})
    for k, v in cons.items():
        if k not in _CONSTRAINTS:
            out.append(f"{where}: unknown constraint {k!r}")
            continue
        allowed = _CONSTRAINTS[k]
        if allowed is not None and typ not in allowed:
            out.append(f"{where}: constraint {k!r} does not apply to type {typ!r}")
        if k in ("required", "unique") and not isinstance(v, bool):
            out.append(f"{where}: {k} must be true or false, got {v!r}")
        if k == "pattern":
            try:
                re.compile(v)
            except (re.error, TypeError) as exc:
                out.append(f"{where}: pattern {v!r} is no regular expression ({exc})")
            if isinstance(v, str) and (v.startswith("^") or v.endswith("$")):
                out.append(
                    f"{where}: pattern {v!r} is anchored (a Table Schema pattern matches the whole value)"
                )
        if k == "enum":
            if not isinstance(v, list) or not v:
                out.append(f"{where}: enum must be a non-empty list")
            elif typ == "string" and not all(isinstance(x, str) for x in v):
                out.append(f"{where}: enum values of a string field must be strings")
        if k in ("minimum", "maximum") and typ in ("number", "integer") and not isinstance(v, int | float):
            out.append(f"{where}: {k} of a numeric field must be a number, got {v!r}")
    if "minimum" in cons and "maximum" in cons and cons["minimum"] > cons["maximum"]:
        out.append(f"{where}: minimum above maximum")
    return out


def _file_columns(path: Path, fmt: str, encoding: str) -> list[str] | None:
    if fmt == "csv":
        with open(path, encoding="utf-8-sig" if encoding.lower() == "utf-8" else encoding, newline="") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return None


def problems(pkg: dict, folder: Path) -> list[str]:
    """Every way ``pkg`` (a parsed datapackage.json whose resource paths are relative to ``folder``) breaks the
    Data Package / Table Schema rules above."""
    out: list[str] = []
    if pkg.get("profile", "data-package") not in _PROFILES:
        out.append(f"profile {pkg.get('profile')!r} is not one of {sorted(_PROFILES)}")
    if "name" in pkg and not _NAME.match(str(pkg["name"])):
        out.append(f"package name {pkg['name']!r}: expected lowercase letters, digits, '.', '_' or '-'")
    for lic in pkg.get("licenses", []):
        if not (lic.get("name") or lic.get("path")):
            out.append("a licence without a name or a path")
    resources = pkg.get("resources")
    if not isinstance(resources, list) or not resources:
        return [*out, "no resources"]
    names = [r.get("name") for r in resources]
    out += [f"resource name {n!r} used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    fields_of: dict[str, list[str]] = {}
    for r in resources:
        fields_of[r.get("name")] = [f.get("name") for f in r.get("schema", {}).get("fields", [])]
    tabular = pkg.get("profile") == "tabular-data-package"
    for r in resources:
        name = r.get("name")
        where = f"resource {name!r}"
        if not isinstance(name, str) or not _NAME.match(name):
            out.append(f"{where}: expected a lowercase name of letters, digits, '.', '_' or '-'")
        path = r.get("path")
        if not isinstance(path, str) or not path:
            out.append(f"{where}: no path")
            continue
        pp = PurePosixPath(path)
        if pp.is_absolute() or ".." in pp.parts or "\\" in path:
            out.append(f"{where}: path {path!r} must be relative, POSIX, inside the package's folder")
            continue
        enc = r.get("encoding", "utf-8")
        try:
            codecs.lookup(enc)
        except LookupError:
            out.append(f"{where}: unknown encoding {enc!r}")
            enc = "utf-8"
        schema = r.get("schema")
        if (tabular or r.get("profile") == "tabular-data-resource") and not isinstance(schema, dict):
            out.append(f"{where}: a tabular resource without a schema")
            continue
        schema = schema or {}
        fields = schema.get("fields", [])
        fnames = [f.get("name") for f in fields]
        out += [
            f"{where}: field {n!r} declared twice" for n in sorted({n for n in fnames if fnames.count(n) > 1})
        ]
        for f in fields:
            out += _field_problems(f"{where} field {f.get('name')!r}", f)
        out += [
            f"{where}: primary key field {k!r} is not a field"
            for k in _keys(schema.get("primaryKey"))
            if k not in fnames
        ]
        for fk in schema.get("foreignKeys", []):
            own = _keys(fk.get("fields"))
            ref = fk.get("reference", {})
            target = ref.get("resource")
            theirs = _keys(ref.get("fields"))
            out += [f"{where}: foreign key field {k!r} is not a field" for k in own if k not in fnames]
            if len(own) != len(theirs):
                out.append(f"{where}: foreign key {own} -> {theirs}: not as many fields on each side")
            target_fields = fnames if target == "" else fields_of.get(target)
            if target_fields is None:
                out.append(
                    f"{where}: foreign key {own} references resource {target!r}, which is not in the package"
                )
                continue
            out += [
                f"{where}: foreign key {own} references {target or name}.{k}, which is not a field"
                for k in theirs
                if k not in target_fields
            ]
        file = folder / path
        if not file.is_file():
            out.append(f"{where}: {file} does not exist")
            continue
        cols = _file_columns(file, r.get("format", pp.suffix.lstrip(".")), enc)
        if cols is not None and fields and cols != fnames:
            out.append(f"{where}: the file's columns {cols} are not the declared fields {fnames}")
    return out


def _typed(f: dict, value: str):
    """The value of a CSV cell for field ``f``, or raise ValueError."""
    typ = f.get("type", "string")
    if typ == "integer":
        return int(value)
    if typ == "number":
        return float(value)
    if typ == "boolean":
        if value in f.get("trueValues", ["true", "True", "TRUE", "1"]):
            return True
        if value in f.get("falseValues", ["false", "False", "FALSE", "0"]):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return value


def row_problems(pkg: dict, folder: Path) -> list[str]:
    """Every cell of the package's CSV resources that breaks its field's type or constraints (required, enum,
    pattern, minimum, maximum), every primary key that repeats and every foreign key without its row: what
    ``frictionless validate`` would report for the data."""
    out: list[str] = []
    rows: dict[str, list[dict]] = {}
    for r in pkg["resources"]:
        with open(folder / r["path"], encoding="utf-8-sig", newline="") as fh:
            rows[r["name"]] = list(csv.DictReader(fh))
    for r in pkg["resources"]:
        name, schema = r["name"], r["schema"]
        for line, row in enumerate(rows[name], start=2):
            for f in schema["fields"]:
                value = row.get(f["name"]) or ""
                cons = f.get("constraints", {})
                where = f"{r['path']}:{line} {f['name']}={value!r}"
                if value == "":
                    if cons.get("required"):
                        out.append(f"{where}: required")
                    continue
                try:
                    typed = _typed(f, value)
                except ValueError:
                    out.append(f"{where}: not of type {f.get('type')}")
                    continue
                if "enum" in cons and typed not in cons["enum"]:
                    out.append(f"{where}: not one of the enum")
                if "pattern" in cons and not re.fullmatch(cons["pattern"], value):
                    out.append(f"{where}: does not match {cons['pattern']}")
                if "minimum" in cons and typed < cons["minimum"]:
                    out.append(f"{where}: below the minimum {cons['minimum']}")
                if "maximum" in cons and typed > cons["maximum"]:
                    out.append(f"{where}: above the maximum {cons['maximum']}")
        key = _keys(schema.get("primaryKey"))
        if key:
            seen = [tuple(row.get(k) for k in key) for row in rows[name]]
            out += [
                f"{r['path']}: primary key {key} repeats {v}"
                for v in sorted({v for v in seen if seen.count(v) > 1})
            ]
        for fk in schema.get("foreignKeys", []):
            own, ref = _keys(fk["fields"]), fk["reference"]
            target = ref["resource"] or name
            there = {tuple(row.get(k) for k in _keys(ref["fields"])) for row in rows[target]}
            for line, row in enumerate(rows[name], start=2):
                v = tuple(row.get(k) or "" for k in own)
                if any(v) and v not in there:
                    out.append(f"{r['path']}:{line} {own}={v}: no such row in {target}")
    return out
