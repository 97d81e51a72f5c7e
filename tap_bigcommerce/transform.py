"""Turning API values into what the schemas promise: ISO-8601 UTC dates, exact decimals.

The conversions are driven by each stream's JSON Schema and compiled once per stream, so a
record costs one pass over the few fields that need work.
"""

from __future__ import annotations

import datetime as dt
import decimal
import email.utils
import functools
import typing as t

from tap_bigcommerce.errors import BadResponseError

Convert = t.Callable[[t.Any], t.Any]


@functools.lru_cache(maxsize=4096)
def parse_api_datetime(raw: str) -> dt.datetime | None:
    """Parse any date BigCommerce sends; `""` (an unshipped order) is None.

    v3 sends ISO-8601 (`2018-08-24T14:41:00+00:00`, `2018-11-13T21:42:06Z`), v2 sends
    RFC-2822 (`Tue, 20 Nov 2012 00:00:00 +0000`). A value without an offset is UTC.
    Raises ValueError for anything else.
    """
    text = raw.strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(text)  # raises ValueError itself
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def to_iso(raw: t.Any) -> str | None:
    """Any API date as ISO-8601 in UTC (`2012-11-20T00:00:00+00:00`), or None."""
    if isinstance(raw, str) and len(raw) == 25 and raw.endswith("+00:00") and raw[10] == "T":
        return raw  # already what we emit (v3 products): skip parsing and formatting
    if raw is None or isinstance(raw, dt.datetime):
        return raw.astimezone(dt.timezone.utc).isoformat() if raw else None
    moment = parse_api_datetime(str(raw))
    return moment.isoformat() if moment else None


def to_decimal(raw: t.Any) -> t.Any:
    """v2 money (`"336.3200"`) as an exact Decimal; numbers pass; `""` is None."""
    if isinstance(raw, str):
        if not raw.strip():
            return None
        return decimal.Decimal(raw)
    return raw


def _types(prop: t.Mapping[str, t.Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _compile(prop: t.Mapping[str, t.Any], money_as_text: bool) -> Convert | None:
    """The conversion one field needs, or None when its values pass as they are."""
    kinds = _types(prop)
    if prop.get("format") == "date-time":
        return to_iso
    if "number" in kinds:
        return to_decimal if money_as_text else None
    as_object = _compile_object(prop, money_as_text) if prop.get("properties") else None
    items = prop.get("items")
    each = _compile(items, money_as_text) if isinstance(items, dict) else None
    as_list = (lambda values: [each(v) if v is not None else v for v in values]) if each else None
    if as_object and as_list:
        # A field documented as "an object or a list" (orders' `fees`): decide per value.
        return lambda value: as_list(value) if isinstance(value, list) else as_object(value)
    return as_object or as_list


def _compile_object(
    schema: t.Mapping[str, t.Any],
    money_as_text: bool,
    on_unknown: t.Callable[[set[str]], None] | None = None,
) -> Convert | None:
    properties = schema.get("properties") or {}
    steps = [
        (name, convert)
        for name, prop in properties.items()
        if (convert := _compile(prop, money_as_text)) is not None
    ]
    if not steps and on_unknown is None:
        return None  # nothing inside needs work: skip the walk altogether
    known = frozenset(properties)

    def convert_record(record: t.Any) -> t.Any:
        if not isinstance(record, dict):
            return record
        if on_unknown is not None and not known.issuperset(record):
            unknown = set(record) - known
            for name in unknown:
                del record[name]
            on_unknown(unknown)
        for name, convert in steps:
            value = record.get(name)
            if value is not None:
                try:
                    record[name] = convert(value)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise BadResponseError(
                        f"field '{name}' of record {record.get('id')} is {value!r}, which "
                        f"the tap cannot read ({type(exc).__name__})"
                    ) from None
        return record

    return convert_record


def compile_record_converter(
    schema: t.Mapping[str, t.Any],
    on_unknown: t.Callable[[set[str]], None] | None = None,
    *,
    money_as_text: bool = True,
) -> Convert:
    """Build a function that converts one record (in place) to match `schema`.

    With `on_unknown`, top-level fields the schema does not declare are removed and
    reported (the tap does this itself instead of the SDK's much slower recursive pass).
    `money_as_text=False` (v3, which sends numbers as JSON numbers) skips number fields.
    """
    return _compile_object(schema, money_as_text, on_unknown) or (lambda record: record)
