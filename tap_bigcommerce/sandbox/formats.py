"""Date and money formats of the two API flavours, and parsing of filter values.

All instants are kept as integer unix seconds (UTC) inside the sandbox; the API's string
formats only exist at the edge, here.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime


class FilterValueError(ValueError):
    """A filter value the API would reject (the server answers 422 / 400)."""


def iso_offset(ts: int) -> str:
    """Catalog v3 style: ``2018-08-24T14:41:00+00:00``."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def iso_z(ts: int) -> str:
    """Customers v3 style: ``2018-11-13T21:42:06Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc2822(ts: int) -> str:
    """Orders v2 style, always UTC: ``Tue, 20 Nov 2012 00:00:00 +0000``."""
    return format_datetime(datetime.fromtimestamp(ts, timezone.utc))


def money4(value: float) -> str:
    """v2 money: a string with 4 decimals (``"336.3200"``)."""
    return f"{value:.4f}"


def rate10(value: float) -> str:
    """v2 exchange rate: a string with 10 decimals (``"1.0000000000"``)."""
    return f"{value:.10f}"


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNIX = re.compile(r"^-?\d{1,12}$")
# ISO-8601 whose "+hh:mm" offset lost its "+" to form decoding ("... 00:00" after a space).
_ISO_SPACE_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:.]+) (\d{2}:?\d{2})$")


def _from_iso(value: str) -> datetime:
    value = value.strip()
    m = _ISO_SPACE_OFFSET.match(value)
    if m:
        # A literal "+" in the query string is decoded as a space by form decoding; the only
        # sensible reading of "T12:00:00 02:00" is "+02:00", so we accept it (documented).
        value = f"{m.group(1)}+{m.group(2)}"
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise FilterValueError(f"invalid date: {value!r}") from exc


def parse_v3_date(value: str, *, date_only_now: bool, now: int | None = None) -> int:
    """Parse a v3 ``date_*`` filter value into unix seconds.

    Accepts ISO-8601 with an offset or ``Z``, timezone-less ISO (read as UTC) and unix
    timestamps. A date without a time gets either the *current time of the request* appended
    (products, documented gotcha: ``date_only_now=True``) or midnight UTC (customers).
    """
    value = value.strip()
    if _UNIX.match(value):
        return int(value)
    if _DATE_ONLY.match(value):
        if date_only_now:
            now = int(time.time()) if now is None else now
            value = value + "T" + time.strftime("%H:%M:%S", time.gmtime(now))
        else:
            value = value + "T00:00:00"
    dt = _from_iso(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def parse_v2_date(value: str) -> int:
    """Parse a v2 ``min_date_*`` value: RFC-2822 or ISO-8601 (unix seconds also tolerated).

    RFC-2822 values whose ``+0000`` was decoded to `` 0000`` by form decoding are accepted too
    (``email.utils`` reads a bare 4-digit zone as an offset).
    """
    value = value.strip()
    if not value:
        raise FilterValueError("empty date")
    if _UNIX.match(value):
        return int(value)
    if value[:1].isdigit():
        dt = _from_iso(value if "T" in value or len(value) > 10 else value + "T00:00:00")
    else:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError) as exc:
            raise FilterValueError(f"invalid date: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())
