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

import msgspec

from tap_bigcommerce.errors import BadResponseError

Convert = t.Callable[[t.Any], t.Any]

#: A date exactly as the tap emits it; such a value passes `to_iso` unchanged. (`\Z`, as
#: msgspec searches with `re.search`, where `$` would also match before a final line break.)
_EMITTED_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00\Z"
EmittedDate = t.Annotated[str, msgspec.Meta(pattern=_EMITTED_DATE)]
_json = msgspec.json.Decoder()


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
        return _text_to_decimal(raw)
    return raw


@functools.lru_cache(maxsize=4096)
def _text_to_decimal(raw: str) -> decimal.Decimal | None:
    # An order carries about 135 money values, most of them the same few ("0.0000"):
    # Decimals are immutable, so one can stand for every equal text. (Errors are not cached;
    # the tap never changes the decimal context, so a text always reads the same.)
    if not raw.strip():
        return None
    return decimal.Decimal(raw)


def _types(prop: t.Mapping[str, t.Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _compile(prop: t.Mapping[str, t.Any], money_as_text: bool) -> Convert | None:
    """The conversion one field needs, or None when its values pass as they are."""
    kinds = _types(prop)
    if prop.get("format") == "date-time":
        return to_iso
    if "number" in kinds:
        # A field that may also be text (`payment_provider_id`) keeps its text as sent.
        return to_decimal if money_as_text and "string" not in kinds else None
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


class RawRecord(dict):  # type: ignore[type-arg]
    """A record whose JSON already is what its schema promises, kept as the API sent it.

    As a dict it holds only what paging and bookmarks read (`id`, `date_modified`, and the
    catalog's key and replication key); `raw` is the whole record, written out as it came
    instead of being decoded and encoded again.
    """

    __slots__ = ("raw",)

    def __init__(self, keys: dict[str, t.Any], raw: msgspec.Raw) -> None:
        """`keys`: those fields, decoded; `raw`: the record's JSON."""
        super().__init__(keys)
        self.raw = raw


class PassThrough:
    """Recognises v3 records that `compile_record_converter` would leave as they are.

    That is a JSON object with no field the schema lacks at the top, and every date-time,
    at any depth, already in UTC as `2018-08-24T14:41:00+00:00` (or null). v3 sends numbers
    as JSON numbers, so nothing else changes (v2 money is text, and is always converted).
    One typed msgspec decode checks all that while skipping every other value unread.
    """

    #: Records tried before giving up on a stream none of whose records pass (customers,
    #: whose dates end in `Z`): the check costs a third more than decoding them outright.
    TRIAL = 500

    def __init__(
        self, schema: t.Mapping[str, t.Any], keys: tuple[str, ...], resource: str = "records"
    ) -> None:
        """`keys`: the fields decoded for the reader; `resource` names the stream in errors."""
        self.keys = keys
        self.resource = resource
        self._decoder = msgspec.json.Decoder(_checked_struct(schema, keys))
        # Counted from several threads without a lock: a lost update only shifts the trial.
        self.tried = self.kept = 0

    @property
    def worth_trying(self) -> bool:
        """False once `TRIAL` records have been tried and not one passed."""
        return self.kept > 0 or self.tried < self.TRIAL

    def read(self, raw: msgspec.Raw) -> dict[str, t.Any]:
        """A `RawRecord` if `raw` passes as it is, else the record decoded in full.

        Raises `BadResponseError` for a record that is not JSON at all.
        """
        text = bytes(raw)
        self.tried += 1
        if _writable_as_is(text):
            try:
                checked = self._decoder.decode(text)
            except msgspec.ValidationError:
                pass  # a field to drop or a date to convert: the full path does that
            else:
                self.kept += 1
                return RawRecord({key: getattr(checked, key) for key in self.keys}, raw)
        try:
            return t.cast("dict[str, t.Any]", _json.decode(text))
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise BadResponseError(
                f"{self.resource}: a record in the response cannot be read as JSON "
                f"({type(exc).__name__})"
            ) from None


def _writable_as_is(text: bytes) -> bool:
    """Whether a record's JSON can go into a Singer message as it is.

    Not with a line break (it would split the message in two), nor with invalid UTF-8 (the
    values msgspec skips unread are not checked).
    """
    if b"\n" in text or b"\r" in text:
        return False
    if text.isascii():
        return True
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _checked_type(prop: t.Mapping[str, t.Any], name: str) -> t.Any:
    """The msgspec type that accepts exactly the values `_compile` (v3) leaves unchanged.

    None: every value passes (the field is skipped unread).
    """
    if prop.get("format") == "date-time":
        return EmittedDate | None
    if "number" in _types(prop):
        return None  # v3 numbers pass unchanged
    as_object = _checked_object(prop, name) if prop.get("properties") else None
    items = prop.get("items")
    each = _checked_type(items, name) if isinstance(items, dict) else None
    as_list = list[each] if each is not None else None  # type: ignore[valid-type]
    if as_object is not None and as_list is not None:
        return as_object | as_list | None
    found = as_object if as_object is not None else as_list
    return None if found is None else found | None


def _checked_object(schema: t.Mapping[str, t.Any], name: str) -> t.Any:
    """A struct of the fields inside an object that need a check; None if none do."""
    fields = []
    for field, prop in (schema.get("properties") or {}).items():
        checked = _checked_type(prop, f"{name}_{field}")
        if checked is not None:
            fields.append((field, checked, None))
    if not fields:
        return None
    return msgspec.defstruct(name, fields, kw_only=True)


def _checked_struct(schema: t.Mapping[str, t.Any], keys: tuple[str, ...]) -> t.Any:
    """The top-level struct: every schema field (unknown ones rejected), `keys` required."""
    fields: list[tuple[str, t.Any] | tuple[str, t.Any, t.Any]] = []
    for field, prop in (schema.get("properties") or {}).items():
        checked = _checked_type(prop, field)
        if field in keys:
            fields.append((field, t.Any if checked is None else checked))
        else:
            fields.append((field, msgspec.Raw if checked is None else checked, None))
    return msgspec.defstruct("Checked", fields, kw_only=True, forbid_unknown_fields=True)
