"""The one home for time helpers: UTC now and the one timestamp format labkit writes.

Every timestamp labkit writes is ISO 8601 in UTC with a ``Z`` suffix: ``YYYY-MM-DDTHH:MM:SSZ``,
with microseconds (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) where records need ordering finer than a second
(calibration answers). :func:`parse_utc` reads both, and any ISO 8601 text with an offset.
"""

from __future__ import annotations

import datetime as dt


def now_utc() -> dt.datetime:
    """The current time as a timezone-aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


def parse_utc(text: str) -> dt.datetime:
    """An ISO 8601 timestamp as an aware datetime (naive text is taken as UTC)."""
    t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


def format_utc(at: dt.datetime | str | None = None, *, micro: bool = False) -> str:
    """``at`` (now when None; naive means UTC) as ``YYYY-MM-DDTHH:MM:SSZ``, or with ``.ffffff`` when ``micro``."""
    if at is None:
        t = now_utc()
    elif isinstance(at, str):
        t = parse_utc(at)
    else:
        t = at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")
