"""Times on the command line (``--since``, ``--until``, ``--now``): relative or ISO.

``30m``, ``2h``, ``7d``, ``1w`` (that long before now), ``now``, ``today`` and
``yesterday`` (midnight UTC starting that day), or an ISO 8601 date or time
(UTC when it names no offset).
"""

from __future__ import annotations

import datetime as dt
import re

from biometric_exchange.exceptions import InvalidInput

UNITS = {
    "s": dt.timedelta(seconds=1),
    "m": dt.timedelta(minutes=1),
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(weeks=1),
}
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
EXAMPLES = "e.g. 30m, 2h, 7d, yesterday, today, 2025-01-31 or 2025-01-31T08:00Z"


def _midnight(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_moment(text: str, *, now: dt.datetime, option: str) -> dt.datetime:
    """The aware UTC time ``text`` names, ``now`` being the reference; InvalidInput
    naming ``option`` when it names none."""
    value = text.strip().lower()
    if value == "now":
        return now
    if value == "today":
        return _midnight(now)
    if value == "yesterday":
        return _midnight(now) - dt.timedelta(days=1)
    relative = _RELATIVE.match(value)
    if relative is not None:
        amount, unit = int(relative.group(1)), relative.group(2)
        try:
            return now - amount * UNITS[unit]
        except OverflowError:
            raise InvalidInput(f"{option}: {text!r} reaches too far back") from None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{option}: {text!r} is not a time ({EXAMPLES})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def parse_window(
    since: str | None, until: str | None, *, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``--since`` and ``--until`` as times; InvalidInput when the window is empty."""
    start = None if since is None else parse_moment(since, now=now, option="--since")
    end = None if until is None else parse_moment(until, now=now, option="--until")
    if start is not None and end is not None and end <= start:
        raise InvalidInput(f"--until: {until!r} is not after --since {since!r}")
    return start, end
