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
``2019-03-02/2019-03-03``       day_range        from the start of the first local day to the end of the last
``2019-03-22T15:12 tz=unknown`` clock_no_zone    a clock time whose zone the source does not state: every
                                                 instant it can be in any zone (UTC-12 to UTC+14)
(empty)                         unknown          no interval
=============================  ===============  ==========================================

:func:`display` prints a reported time as a reader should see it (the local day as reported, "late Jan 2026"),
never the UTC lower bound of its interval:

>>> display("2026-01 late"), display("2019-03-02/2019-03-03"), display("")
('late Jan 2026', '2-3 Mar 2019', 'not reported')

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

__all__ = [
    "TimeSpec",
    "TimeSpecError",
    "parse",
    "display",
    "PARTS_OF_DAY",
    "PARTS_OF_MONTH",
    "GRAMMAR_HELP",
    "PRECISION_LABELS",
    "STUDY_YEARS",
    "OFFSET_RANGE_MIN",
]

#: the plausible window of the study (rule ``study window``): Russian state flights after 1990; reports, sources
#: and sanctions dated outside it are typos (1900 for 2019, 2100 for 2010), never facts to publish
STUDY_YEARS = (1990, 2040)
#: UTC offsets in use on Earth (rule ``UTC offset range``), in minutes: UTC-12:00 to UTC+14:00
OFFSET_RANGE_MIN = (-12 * 60, 14 * 60)

#: How each precision reads in a chart legend or a table (the codes are the data's; readers get these words).
PRECISION_LABELS = {
    "second": "to the second",
    "minute": "to the minute",
    "approx_hour": "about the hour (±30 min)",
    "day": "a day",
    "day_range": "a range of days",
    "part_of_day": "part of a day",
    "part_of_month": "part of a month",
    "month": "a month",
    "year": "a year",
    "day_year_unknown": "day and month, year unknown",
    "clock_no_zone": "clock time, time zone unknown",
    "unknown": "unknown",
}

PARTS_OF_DAY = {"predawn": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}
PARTS_OF_MONTH = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}

GRAMMAR_HELP = (
    "a time as reported: 2008-09-10T16:50Z or 2026-02-04T23:34+03:00 (a time of day needs an offset), "
    "optional '~' for approximate, 2019-03-23 (a local date), '2026-02-01 evening' "
    "(predawn/morning/afternoon/evening), '2026-01 late' (early/mid/late), 2019-03, 2019, --02-07 (year "
    "unknown), 2019-03-02/2019-03-03 (a range of local days), '2019-03-22T15:12 tz=unknown' (a clock time whose "
    "zone the source does not state), or empty for unknown"
)

_INSTANT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?(~)?$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: (predawn|morning|afternoon|evening))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?: (early|mid|late))?$")
_YEAR = re.compile(r"^(\d{4})$")
_NOYEAR = re.compile(r"^--(\d{2})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})$")
_NOZONE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}) tz=unknown$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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
        raise TimeSpecError(
            f"unknown time zone {tz!r}; expected an IANA name such as America/Caracas"
        ) from exc


def _local(zone: ZoneInfo, y: int, m: int, d: int, h: int = 0) -> datetime:
    """Local wall-clock time h hours after midnight of y-m-d (h may be 24), in UTC."""
    return (datetime(y, m, d, tzinfo=zone) + timedelta(hours=h)).astimezone(UTC)


def _check_ymd(y: int, m: int, d: int, value: str) -> None:
    if not 1 <= m <= 12:
        raise TimeSpecError(f"month {m} out of range in {value!r}; expected {GRAMMAR_HELP}")
    if not 1 <= d <= calendar.monthrange(y, m)[1]:
        raise TimeSpecError(f"day {d} out of range for {y}-{m:02d} in {value!r}; expected {GRAMMAR_HELP}")
    if not STUDY_YEARS[0] <= y <= STUDY_YEARS[1]:
        raise TimeSpecError(
            f"year {y} is outside the study window in {value!r}; expected a year between "
            f"{STUDY_YEARS[0]} and {STUDY_YEARS[1]} (rule: study window, analysis.timespec.STUDY_YEARS)"
        )


def _check_offset(zone: str, value: str) -> None:
    """An explicit offset must be one in use: -12:00 to +14:00, minutes 00-59."""
    if zone == "Z":
        return
    sign = -1 if zone[0] == "-" else 1
    hh, mm = int(zone[1:3]), int(zone[4:6])
    minutes = sign * (hh * 60 + mm)
    if mm > 59 or not OFFSET_RANGE_MIN[0] <= minutes <= OFFSET_RANGE_MIN[1]:
        raise TimeSpecError(
            f"offset {zone} in {value!r} is not a UTC offset in use; expected an offset from -12:00 "
            "to +14:00 (rule: UTC offset range, analysis.timespec.OFFSET_RANGE_MIN)"
        )


def parse(value: str | None, tz: str | None = None) -> TimeSpec:
    """Parse a reported time. ``tz`` is the zone of the place, for dates without a time of day."""
    text = (value or "").strip()
    if not text:
        return TimeSpec("", "unknown", None, None)
    if m := _NOZONE.match(text):
        y, mo, d, hh, mm = (int(m.group(i)) for i in range(1, 6))
        _check_ymd(y, mo, d, text)
        if hh > 23 or mm > 59:
            raise TimeSpecError(
                f"time of day out of range in {text!r}; expected HH:MM between 00:00 and 23:59"
            )
        wall = datetime(y, mo, d, hh, mm, tzinfo=UTC)
        # the wall-clock reading in any zone from UTC+14 (earliest instant) to UTC-12 (latest)
        return TimeSpec(
            text, "clock_no_zone", wall - timedelta(hours=14), wall + timedelta(hours=12, minutes=1)
        )
    if m := _RANGE.match(text):
        first, last = parse(m.group(1), tz), parse(m.group(2), tz)
        if first.earliest is None or last.latest is None:  # the grammar gives each end a date: never unknown
            raise TimeSpecError(f"day range {text!r} has an unknown end; expected first/last day")
        if last.latest <= first.earliest:
            raise TimeSpecError(f"day range {text!r} ends before it starts; expected first/last day in order")
        return TimeSpec(text, "day_range", first.earliest, last.latest)
    if m := _INSTANT.match(text):
        y, mo, d, hh, mm = (int(m.group(i)) for i in range(1, 6))
        ss = m.group(6)
        _check_ymd(y, mo, d, text)
        if hh > 23 or mm > 59 or (ss is not None and int(ss) > 59):
            raise TimeSpecError(
                f"time of day out of range in {text!r}; expected HH:MM between 00:00 and 23:59"
            )
        if m.group(7) is None:
            raise TimeSpecError(
                f"time {text!r} has no time zone; expected an explicit offset such as 'Z' (UTC) or '-04:00' "
                "(a time without a zone would silently shift by hours)"
            )
        _check_offset(m.group(7), text)
        iso = text.rstrip("~").replace("Z", "+00:00")
        try:
            instant = datetime.fromisoformat(iso).astimezone(UTC)
        except ValueError as exc:
            raise TimeSpecError(f"cannot read {text!r}; expected {GRAMMAR_HELP}") from exc
        if m.group(8):
            return TimeSpec(
                text, "approx_hour", instant - timedelta(minutes=30), instant + timedelta(minutes=30)
            )
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
        last_day = calendar.monthrange(y, mo)[1]
        if part := m.group(3):
            d0, d1 = PARTS_OF_MONTH[part]
            return TimeSpec(
                text, "part_of_month", _local(zone, y, mo, d0), _local(zone, y, mo, min(d1, last_day), 24)
            )
        return TimeSpec(text, "month", _local(zone, y, mo, 1), _local(zone, y, mo, last_day, 24))
    if m := _YEAR.match(text):
        y = int(m.group(1))
        _check_ymd(y, 1, 1, text)
        return TimeSpec(text, "year", _local(zone, y, 1, 1), _local(zone, y, 12, 31, 24))
    if m := _NOYEAR.match(text):
        _check_ymd(2000, int(m.group(1)), int(m.group(2)), text)  # 2000 is a leap year: allows --02-29
        return TimeSpec(text, "day_year_unknown", None, None)
    raise TimeSpecError(f"cannot read {text!r}; expected {GRAMMAR_HELP}")


def _day(y: str, m: str, d: str) -> str:
    return f"{int(d)} {_MONTHS[int(m) - 1]} {y}"


def display(text: str | None) -> str:
    """A reported time as a reader should see it: the day, part of day or month as the source gave it.

    Never converts a reported local day to UTC (a day in Caracas printed as its UTC start would show the day
    before). Times of day keep their stated offset; a time without a zone says so.

    >>> display("2019-03-23"), display("2026-02-01 evening"), display("2026-02-04T23:34+03:00")
    ('23 Mar 2019', 'evening of 1 Feb 2026', '4 Feb 2026 23:34 UTC+03:00')
    >>> display("2019-03-22T15:12 tz=unknown"), display("--02-07")
    ('22 Mar 2019 15:12 (time zone not stated)', '7 Feb (year not stated)')
    """
    t = (text or "").strip()
    if not t:
        return "not reported"
    if m := _NOZONE.match(t):
        return f"{_day(m.group(1), m.group(2), m.group(3))} {m.group(4)}:{m.group(5)} (time zone not stated)"
    if m := _RANGE.match(t):
        (y0, m0, d0), (y1, m1, d1) = m.group(1).split("-"), m.group(2).split("-")
        if (y0, m0) == (y1, m1):
            return f"{int(d0)}-{int(d1)} {_MONTHS[int(m0) - 1]} {y0}"
        if y0 == y1:
            return f"{int(d0)} {_MONTHS[int(m0) - 1]} - {_day(y1, m1, d1)}"
        return f"{_day(y0, m0, d0)} - {_day(y1, m1, d1)}"
    if m := _INSTANT.match(t):
        day = _day(m.group(1), m.group(2), m.group(3))
        clock = f"{m.group(4)}:{m.group(5)}" + (f":{m.group(6)}" if m.group(6) else "")
        zone = m.group(7) or ""
        zone = "UTC" if zone == "Z" else f"UTC{zone}"
        return f"{day} {'about ' if m.group(8) else ''}{clock} {zone}".replace(
            f"{day} about", f"{day}, about"
        )
    if m := _DATE.match(t):
        day = _day(m.group(1), m.group(2), m.group(3))
        return f"{m.group(4)} of {day}" if m.group(4) else day
    if m := _MONTH.match(t):
        month = f"{_MONTHS[int(m.group(2)) - 1]} {m.group(1)}"
        return f"{m.group(3)} {month}" if m.group(3) else month
    if m := _NOYEAR.match(t):
        return f"{int(m.group(2))} {_MONTHS[int(m.group(1)) - 1]} (year not stated)"
    return t
