"""Dates, money, the per-record conversion and the pass-through check: pure functions."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import random
import typing as t

import msgspec
import pytest

from tap_bigcommerce.errors import BadResponseError
from tap_bigcommerce.sandbox import Store
from tap_bigcommerce.schema_files import load_schema
from tap_bigcommerce.transform import (
    PassThrough,
    RawRecord,
    compile_record_converter,
    parse_api_datetime,
    to_decimal,
    to_iso,
)

UTC = dt.timezone.utc
KEYS = ("id", "date_modified")
INCLUDES = {
    "products": ["variants", "images", "custom_fields", "primary_image", "bulk_pricing_rules"],
    "customers": ["addresses", "attributes", "formfields", "storecredit"],
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-08-24T14:41:00+00:00", dt.datetime(2018, 8, 24, 14, 41, tzinfo=UTC)),
        ("2018-11-13T21:42:06Z", dt.datetime(2018, 11, 13, 21, 42, 6, tzinfo=UTC)),
        ("2018-11-13T23:42:06+02:00", dt.datetime(2018, 11, 13, 21, 42, 6, tzinfo=UTC)),
        ("Tue, 20 Nov 2012 00:00:00 +0000", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("Tue, 20 Nov 2012 01:00:00 +0100", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("2012-11-20T00:00:00", dt.datetime(2012, 11, 20, tzinfo=UTC)),
        ("", None),
        ("   ", None),
    ],
)
def test_api_dates_of_both_flavours_are_read_as_utc(raw, expected):
    assert parse_api_datetime(raw) == expected


def test_a_date_nobody_could_read_is_an_error():
    with pytest.raises(ValueError):
        parse_api_datetime("next tuesday")


def test_dates_are_emitted_in_one_form():
    assert to_iso("Tue, 20 Nov 2012 00:00:00 +0000") == "2012-11-20T00:00:00+00:00"
    assert to_iso("2018-11-13T21:42:06Z") == "2018-11-13T21:42:06+00:00"
    assert to_iso("2018-08-24T14:41:00+00:00") == "2018-08-24T14:41:00+00:00"
    assert to_iso("") is None
    assert to_iso(None) is None


def test_v2_money_text_becomes_an_exact_decimal():
    assert to_decimal("336.3200") == decimal.Decimal("336.3200")
    assert to_decimal("") is None
    assert to_decimal(12.5) == 12.5


def test_the_converter_drops_unknown_fields_and_converts_dates_at_any_depth():
    schema = load_schema("products")
    dropped: list[set[str]] = []
    convert = compile_record_converter(schema, dropped.append, money_as_text=False)
    record = {
        "id": 1,
        "date_modified": "2018-11-13T21:42:06Z",
        "images": [{"id": 5, "date_modified": "Tue, 20 Nov 2012 00:00:00 +0000"}, None],
        "brand_new": True,
    }
    assert convert(record) == {
        "id": 1,
        "date_modified": "2018-11-13T21:42:06+00:00",
        "images": [{"id": 5, "date_modified": "2012-11-20T00:00:00+00:00"}, None],
    }
    assert dropped == [{"brand_new"}]


def test_the_converter_names_the_field_it_cannot_read():
    convert = compile_record_converter(load_schema("products"), money_as_text=False)
    with pytest.raises(BadResponseError, match="'date_created' of record 7"):
        convert({"id": 7, "date_created": "soon"})


def raw_of(record: t.Any) -> msgspec.Raw:
    """The JSON of `record` as a v3 page hands it over: a slice of the page's body."""
    body = b'{"data":[' + msgspec.json.encode(record) + b'],"meta":{}}'
    return msgspec.json.decode(body, type=dict[str, list[msgspec.Raw] | dict])["data"][0]


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict]]:
    """Sandbox records, as the API sends them (customers' dates end in `Z`)."""
    store = Store(seed=3, products=40, customers=40, orders=1, plateau=0)
    return {
        name: [store.record(name, rid, INCLUDES[name]) for rid in store.ids(name)]
        for name in ("products", "customers")
    }


def test_customers_as_sent_need_their_dates_converted(sample):
    check = PassThrough(load_schema("customers"), KEYS)
    assert not any(type(check.read(raw_of(c))) is RawRecord for c in sample["customers"])


def test_a_record_already_as_emitted_is_kept_as_sent(sample):
    record = sample["products"][0]
    raw = raw_of(record)
    kept = PassThrough(load_schema("products"), KEYS).read(raw)
    assert type(kept) is RawRecord
    assert dict(kept) == {"id": record["id"], "date_modified": record["date_modified"]}
    assert bytes(kept.raw) == bytes(raw)
    assert msgspec.json.decode(kept.raw) == record


def product_changes() -> dict[str, t.Callable[[dict], None]]:
    def image_date(value: t.Any) -> t.Callable[[dict], None]:
        def change(record: dict) -> None:
            record["images"] = [{"id": 1, "date_modified": value}]

        return change

    return {
        "unknown field": lambda r: r.update(brand_new=1),
        "date with Z": lambda r: r.update(date_modified="2018-11-13T21:42:06Z"),
        "date with an offset": lambda r: r.update(date_created="2018-11-13T23:42:06+02:00"),
        "date with fractions": lambda r: r.update(date_created="2018-11-13T21:42:06.5+00:00"),
        "date with a line break": lambda r: r.update(date_modified="2018-11-13T21:42:06+00:00\n"),
        "empty date": lambda r: r.update(date_created=""),
        "v2 date": lambda r: r.update(date_created="Tue, 20 Nov 2012 00:00:00 +0000"),
        "nested date with Z": image_date("2018-11-13T21:42:06Z"),
        "nested empty date": image_date(""),
        "primary image date": lambda r: r.update(
            primary_image={"date_modified": "2018-11-13T21:42:06Z"}
        ),
        "no id": lambda r: r.pop("id"),
        "no date_modified": lambda r: r.pop("date_modified"),
    }


@pytest.mark.parametrize("change", sorted(product_changes()))
def test_what_the_converter_would_change_is_decoded_in_full(sample, change):
    record = copy.deepcopy(sample["products"][1])
    product_changes()[change](record)
    read = PassThrough(load_schema("products"), KEYS).read(raw_of(record))
    assert type(read) is dict
    assert read == record


def test_a_record_spread_over_lines_is_decoded_in_full(sample):
    record = sample["products"][2]
    text = msgspec.json.format(msgspec.json.encode(record), indent=2)
    raw = msgspec.json.decode(b"[" + text + b"]", type=list[msgspec.Raw])[0]
    read = PassThrough(load_schema("products"), KEYS).read(raw)
    assert type(read) is dict
    assert read == record


def test_invalid_utf8_is_never_written_as_sent():
    text = b'[{"id":1,"date_modified":"2018-08-24T14:41:00+00:00","name":"\xff"}]'
    raw = msgspec.json.decode(text, type=list[msgspec.Raw])[0]
    with pytest.raises(BadResponseError, match="products: a record in the response cannot"):
        PassThrough(load_schema("products"), KEYS, "products").read(raw)


def test_non_ascii_text_passes(sample):
    record = copy.deepcopy(sample["products"][4])
    record["name"] = "Caf\u00e9 \u2028 \U0001f600"
    assert type(PassThrough(load_schema("products"), KEYS).read(raw_of(record))) is RawRecord


def test_the_keys_decoded_are_those_asked_for(sample):
    record = sample["products"][5]
    read = PassThrough(load_schema("products"), ("id", "date_modified", "sku")).read(raw_of(record))
    assert dict(read) == {k: record[k] for k in ("id", "date_modified", "sku")}


def test_nulls_and_unknown_fields_inside_objects_pass_as_the_converter_leaves_them(sample):
    record = copy.deepcopy(sample["products"][3])
    record["date_created"] = None
    record["images"] = [{"id": 1, "date_modified": None, "brand_new": 2}, None]
    read = PassThrough(load_schema("products"), KEYS).read(raw_of(record))
    assert type(read) is RawRecord


MUTATIONS: list[t.Callable[[random.Random, t.Any], t.Any]] = [
    lambda rng, v: "2018-11-13T21:42:06Z",
    lambda rng, v: "2018-11-13T21:42:06+00:00",
    lambda rng, v: "2018-11-13T21:42:06+00:00\n",
    lambda rng, v: "Tue, 20 Nov 2012 00:00:00 +0000",
    lambda rng, v: "",
    lambda rng, v: None,
    lambda rng, v: rng.randint(0, 9),
    lambda rng, v: [v],
    lambda rng, v: {"nested": v},
    lambda rng, v: "12.50",
]


def mutate(rng: random.Random, value: t.Any, depth: int = 0) -> t.Any:
    """`value` with one randomly chosen field somewhere in it changed, added or removed."""
    if isinstance(value, dict) and value and (depth == 0 or rng.random() < 0.7):
        name = rng.choice(sorted(value))
        roll = rng.random()
        if roll < 0.1:
            value.pop(name)
        elif roll < 0.2:
            value[f"new_{rng.randint(0, 3)}"] = 1
        else:
            value[name] = mutate(rng, value[name], depth + 1)
        return value
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        value[i] = mutate(rng, value[i], depth + 1)
        return value
    return rng.choice(MUTATIONS)(rng, value)


@pytest.mark.parametrize("name", ["products", "customers"])
def test_whatever_is_kept_as_sent_the_converter_would_have_left_alone(sample, name):
    """Random changes anywhere in real-shaped records: pass-through implies no conversion."""
    schema = load_schema(name)
    check = PassThrough(schema, KEYS)
    emitted = compile_record_converter(schema, money_as_text=False)
    start = [emitted(copy.deepcopy(record)) for record in sample[name]]
    rng = random.Random(20261128)
    kept = 0
    for _ in range(3000):
        record = copy.deepcopy(rng.choice(start))
        for _ in range(rng.randint(0, 2)):
            record = mutate(rng, record)
        read = check.read(raw_of(record))
        if type(read) is not RawRecord:
            assert read == record
            continue
        kept += 1
        dropped: list[set[str]] = []
        convert = compile_record_converter(schema, dropped.append, money_as_text=False)
        try:
            converted = convert(copy.deepcopy(record))
        except BadResponseError:
            pytest.fail(f"kept as sent, yet the converter cannot read it: {record}")
        assert converted == record and not dropped
        assert dict(read) == {key: record[key] for key in KEYS}
    assert kept > 100, "the sample should keep a good share of records as sent"


def test_a_stream_none_of_whose_records_pass_stops_being_checked(sample):
    check = PassThrough(load_schema("customers"), KEYS)
    raws = [raw_of(c) for c in sample["customers"]]
    while check.tried < PassThrough.TRIAL:
        for raw in raws:
            check.read(raw)
    assert check.kept == 0 and not check.worth_trying
    kept = PassThrough(load_schema("products"), KEYS)
    for _ in range(PassThrough.TRIAL // len(sample["products"]) + 1):
        for product in sample["products"]:
            kept.read(raw_of(product))
    assert kept.worth_trying


def test_v2_fields_that_may_be_text_or_number_keep_their_text():
    """`payment_provider_id` is `number` or `string` in the spec: its text is no money."""
    schema = {"properties": {"payment_provider_id": {"type": ["string", "number", "null"]}}}
    convert = compile_record_converter(schema, money_as_text=True)
    assert convert({"payment_provider_id": "pi_3Kx"}) == {"payment_provider_id": "pi_3Kx"}
    assert convert({"payment_provider_id": 12.5}) == {"payment_provider_id": 12.5}
