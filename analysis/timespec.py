"""Times as sources report them, turned into UTC intervals with a stated precision.

A source rarely gives an instant. It says "Sunday evening local time", "late January" or "15:12, time zone not
stated". The raw tables keep the time as reported, in a small grammar, and the build turns each into an interval
``[earliest_utc, latest_utc)`` plus a precision label. Nothing is rounded into false exactness: a day in Caracas
is the 24 hours of that local day, in UTC.

Grammar (``tz`` is the IANA zone of the place, used only for dates without a time of day):

=============================  ===============  ==========================================
value                          precision        interval
=============================  ===============  ==========================================
``2008-09-10T16:50Z``           minute           that minute (``Z`` or ``+03:00`` required)
``2008-09-10T16:50:07Z``        second           that second
``2025-10-01T11:30-04:00~``     approx_hour      30 minutes either side
``2019-03-23``                  day              the local day in ``tz``
``2026-02-01 evening``          part_of_day      predawn 00-06, morning 06-12, afternoon 12-18,
                                                 evening 18-24, local
``2026-01 late``                part_of_month    early 1-10, mid 11-20, late 21-end, local
``2019-03``                     month            the local month
``2019``                        year             the local year
``--02-07``                     day_year_unknown no interval: month and day known, year not stated
(empty)                         unknown          no interval
=============================  ===============  ==========================================

>>> t = parse("2019-03-23", "America/Caracas")
>>> t.precision, t.earliest.isoformat(), t.latest.isoformat()
('day', '2019-03-23T04:00:00+00:00', '2019-03-24T04:00:00+00:00')
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TimeSpec", "TimeSpecError", "parse", "PARTS_OF_DAY", "PARTS_OF_MONTH", "GRAMMAR_HELP"]

PARTS_OF_DAY = {"predawn": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}
PARTS_OF_MONTH = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}

GRAMMAR_HELP = (
    "a time as reported: 2008-09-10T16:50Z or 2026-02-04T23:34+03:00 (a time of day needs an offset), "
    "optional '~' for approximate, 2019-03-23 (a local date), '2026-02-01 evening' "
    "(predawn/morning/afternoon/evening), '2026-01 late' (early/mid/late), 2019-03, 2019, --02-07 (year "
    "unknown), or empty for unknown"
)

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?(~)?$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: (predawn|morning|afternoon|evening))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?: (early|mid|late))?$")
_YEAR = re.compile(r"^(\d{4})$")
_NOYEAR = re.compile(r"^--(\d{2})-(\d{2})$")


class TimeSpecError(ValueError):
    """A value that does not follow the grammar; the message says what was expected."""


@dataclass(frozen=True)
class TimeSpec:
    """A reported time: the text, its precision and the UTC interval it allows (None when unknown)."""

    text: str
    precision: str
    earliest: datetime | None
    latest: datetime | None

    @property
    def is_known(self) -> bool:
        return self.earliest is not None

    @property
    def midpoint(self) -> datetime | None:
        if self.earliest is None or self.latest is None:
            return None
        return self.earliest + (self.latest - self.earliest) / 2


def _zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeSpecError(f"unknown time zone {tz!r}; expected an IANA name such as America/Caracas") from exc


def _local(zone: ZoneInfo, y: int, m: int, d: int, h: int = 0) -> datetime:
    """Local wall-clock time h hours after midnight of y-m-d (h may be 24), in UTC."""
    return (datetime(y, m, d, tzinfo=zone) + timedelta(hours=h)).astimezone(UTC)


def _check_ymd(y: int, m: int, d: int, value: str) -> None:
    if not 1 <= m <= 12:
        raise TimeSpecError(f"month {m} out of range in {value!r}; expected {GRAMMAR_HELP}")
    if not 1 <= d <= calendar.monthrange(y, m)[1]:
        raise TimeSpecError(f"day {d} out of range for {y}-{m:02d} in {value!r}; expected {GRAMMAR_HELP}")
    if not 1900 <= y <= 2100:
        raise TimeSpecError(f"year {y} is implausible in {value!r}; expected a year between 1900 and 2100")


def parse(value: str | None, tz: str | None = None) -> TimeSpec:
    """Parse a reported time. ``tz`` is the zone of the place, for dates without a time of day."""
    text = (value or "").strip()
    if not text:
        return TimeSpec("", "unknown", None, None)
    if m := _INSTANT.match(text):
        y, mo, d, hh, mm = (int(m.group(i)) for i in range(1, 6))
        ss = m.group(6)
        _check_ymd(y, mo, d, text)
        if hh > 23 or mm > 59 or (ss is not None and int(ss) > 59):
            raise TimeSpecError(f"time of day out of range in {text!r}; expected HH:MM between 00:00 and 23:59")
        if m.group(7) is None:
            raise TimeSpecError(
                f"time {text!r} has no time zone; expected an explicit offset such as 'Z' (UTC) or '-04:00' "
                "(a time without a zone would silently shift by hours)"
            )
        iso = text.rstrip("~").replace("Z", "+00:00")
        try:
            instant = datetime.fromisoformat(iso).astimezone(UTC)
        except ValueError as exc:
            raise TimeSpecError(f"cannot read {text!r}; expected {GRAMMAR_HELP}") from exc
        if m.group(8):
            return TimeSpec(text, "approx_hour", instant - timedelta(minutes=30), instant + timedelta(minutes=30))
        if ss is not None:
            return TimeSpec(text, "second", instant, instant + timedelta(seconds=1))
        return TimeSpec(text, "minute", instant, instant + timedelta(minutes=1))
    zone = _zone(tz)
    if m := _DATE.match(text):
        y, mo, d = (int(m.group(i)) for i in range(1, 4))
        _check_ymd(y, mo, d, text)
        if part := m.group(4):
            h0, h1 = PARTS_OF_DAY[part]
            return TimeSpec(text, "part_of_day", _local(zone, y, mo, d, h0), _local(zone, y, mo, d, h1))
        return TimeSpec(text, "day", _local(zone, y, mo, d), _local(zone, y, mo, d, 24))
    if m := _MONTH.match(text):
        y, mo = int(m.group(1)), int(m.group(2))
        _check_ymd(y, mo, 1, text)
        last = calendar.monthrange(y, mo)[1]
        if part := m.group(3):
            d0, d1 = PARTS_OF_MONTH[part]
            return TimeSpec(text, "part_of_month", _local(zone, y, mo, d0), _local(zone, y, mo, min(d1, last), 24))
        return TimeSpec(text, "month", _local(zone, y, mo, 1), _local(zone, y, mo, last, 24))
    if m := _YEAR.match(text):
        y = int(m.group(1))
        _check_ymd(y, 1, 1, text)
        return TimeSpec(text, "year", _local(zone, y, 1, 1), _local(zone, y, 12, 31, 24))
    if m := _NOYEAR.match(text):
        _check_ymd(2000, int(m.group(1)), int(m.group(2)), text)  # 2000 is a leap year: allows --02-29
        return TimeSpec(text, "day_year_unknown", None, None)
    raise TimeSpecError(f"cannot read {text!r}; expected {GRAMMAR_HELP}")
