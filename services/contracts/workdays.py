"""Working days in North Rhine-Westphalia: Monday to Friday except the public holidays of NRW
(Feiertagsgesetz NW §2: New Year, Good Friday, Easter Monday, 1 May, Ascension, Whit Monday,
Corpus Christi, 3 October, All Saints, Christmas Day and Boxing Day).

Pure standard library, deterministic: workflows use it with `workflow.now()` to compute working-day
deadlines (ARCHITECTURE.md "Where workflows sit"), services use it for the same dates on their APIs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def city_today(now: datetime | None = None) -> date:
    """The city's calendar day (Europe/Berlin). Servers keep UTC: from 22:00 or 23:00 UTC it is already
    the next day in Hamm, and a date a clerk enters as "today" must not be refused as in the future,
    nor a deadline counted from yesterday. Every service asks this instead of `date.today()`; workflows
    use `workflow.now()` in BERLIN."""
    moment = now if now is not None else datetime.now(BERLIN)
    return moment.astimezone(BERLIN).date()


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def nrw_holidays(year: int) -> dict[date, str]:
    """The public holidays of NRW in `year`, with their German names."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "Neujahr",
        easter - timedelta(days=2): "Karfreitag",
        easter + timedelta(days=1): "Ostermontag",
        date(year, 5, 1): "Tag der Arbeit",
        easter + timedelta(days=39): "Christi Himmelfahrt",
        easter + timedelta(days=50): "Pfingstmontag",
        easter + timedelta(days=60): "Fronleichnam",
        date(year, 10, 3): "Tag der Deutschen Einheit",
        date(year, 11, 1): "Allerheiligen",
        date(year, 12, 25): "1. Weihnachtstag",
        date(year, 12, 26): "2. Weihnachtstag",
    }


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in nrw_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (start itself does not count); 0 gives the first
    working day on or after `start`."""
    current = start
    if days == 0:
        while not is_working_day(current):
            current += timedelta(days=1)
        return current
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 if end <= start)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def nth_working_day_of_month(year: int, month: int, n: int) -> date:
    """E.g. the 3rd working day of a month, when the monthly report is due."""
    first = date(year, month, 1)
    day = add_working_days(first, 0)
    return add_working_days(day, n - 1) if n > 1 else day


def end_of_working_day(day: date, closing: time = time(23, 59, 59)) -> datetime:
    """A deadline on `day` as an aware datetime in Berlin time (the end of that day by default)."""
    return datetime.combine(day, closing, tzinfo=BERLIN)


WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def closed_day_reason(day: date) -> str | None:
    """Why no appointment can be held on `day` (German, for the field of a 422), or None on a working
    day: an NRW public holiday (Feiertagsgesetz NW §2, with its name) or a Saturday or Sunday. ABRA
    clearing slots are offered on working days only (DOMAIN.md flow 2: "within 3 working days")."""
    holiday = nrw_holidays(day.year).get(day)
    if holiday is not None:
        return f"{day.isoformat()} ist ein Feiertag in NRW ({holiday})"
    if day.weekday() >= 5:
        return f"{day.isoformat()} ist ein {WEEKDAYS_DE[day.weekday()]}, kein Arbeitstag"
    return None


def closed_days_between(start: date, end: date) -> list[date]:
    """The days from `start` to `end` (both included) that are not working days."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1) if not is_working_day(start + timedelta(days=n))]
