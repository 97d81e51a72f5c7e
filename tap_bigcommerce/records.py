"""The per-record path of every stream: the tap's own conversion, then the message."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import typing as t
from functools import cached_property

import msgspec
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import (
    Catalog,
    CatalogEntry,
    Metadata,
    RecordMessage,
    Schema,
    StreamMetadata,
)

from tap_bigcommerce.schema_files import STORE_HASH_PROPERTY
from tap_bigcommerce.transform import RawRecord, compile_record_converter


def store_first(key: t.Sequence[str]) -> list[str]:
    """`key` starting with `store_hash` (moved to the front if elsewhere in it).

    An empty key stays empty: it is a choice of no key at all, not a key to complete.
    """
    if not key or key[0] == "store_hash":
        return list(key)
    return ["store_hash", *(name for name in key if name != "store_hash")]


def with_store(entry: CatalogEntry, key: list[str]) -> CatalogEntry:
    """A copy of `entry` keyed by `key` (if any), with a `store_hash` property.

    `key` goes into the stream's metadata too, where `store_hash` is then always included,
    as discovery writes any key property. `entry` itself is left as it was.
    """
    schema = entry.schema.to_dict()
    properties = schema.get("properties") or {}
    if "store_hash" not in properties:
        # Every record carries it (`add_store_hash`), whatever the key.
        schema["properties"] = {"store_hash": STORE_HASH_PROPERTY, **properties}
    metadata = copy.deepcopy(entry.metadata)
    root = metadata.get(())
    if key and isinstance(root, StreamMetadata):
        root.table_key_properties = key
        crumb = metadata.setdefault(("properties", "store_hash"), Metadata())
        crumb.inclusion = Metadata.InclusionType.AUTOMATIC
    return dataclasses.replace(
        entry,
        key_properties=key or entry.key_properties,
        schema=Schema.from_dict(schema),
        metadata=metadata,
    )


def catalog_keyed_by_store(catalog: Catalog) -> Catalog:
    """`catalog` with every stream's key starting with `store_hash`, and the property.

    A catalog saved by 0.1 (before `store_hash`) keys a stream by `["id"]` and has no
    `store_hash` property: taken as is, two stores' rows would share keys in the target. So
    a key from the catalog gets `store_hash` in front (a chosen `["sku"]` too; an empty key
    stays empty), and the schema gets the property. A new catalog: `catalog` is not changed.
    """
    fixed = Catalog()
    for name, entry in catalog.items():
        root = entry.metadata.get(())
        declared = root.table_key_properties if isinstance(root, StreamMetadata) else None
        # Which key the SDK takes from an entry (`Stream.apply_catalog`).
        fixed[name] = with_store(entry, store_first(entry.key_properties or declared or []))
    return fixed


class LeanRecordsMixin(Stream):
    """The per-record path of every stream: the tap's own conversion, then the message.

    `transform.py` gives every field the schema's type and drops unknown ones, so the SDK's
    recursive conformance pass (half the run time) is off. And with every field selected
    (the usual case) the SDK's walk for deselected fields removes nothing, yet costs a third
    of the rest: it is skipped then; with any field deselected the SDK's own path runs.
    A v3 record that needs no conversion at all arrives as a `RawRecord` and is written as
    the API sent it, never decoded in full.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The SDK would send ACTIVATE_VERSION before a stream's records (with the setting
    #: `emit_activate_version_messages`), and for every batch of child rows; the tap sends
    #: its own, after the last record of a read that covered the whole table.
    emit_activate_version_messages = False
    _unknown_seen: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        """Every key starts with `store_hash`: two stores' ids never meet in one table.

        A declaration names the key within one store (`["id"]`); the store comes first here,
        for one store as for many, so adding a store later needs no migration.
        """
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("primary_keys")
        if isinstance(declared, list) and declared[:1] != ["store_hash"]:
            cls.primary_keys = ["store_hash", *declared]  # type: ignore[assignment]

    @cached_property
    def store_hash(self) -> str:
        """The store this stream reads: its tap's one store."""
        return str(getattr(self._tap, "store").store_hash)  # noqa: B009 - ours, not the SDK's

    def add_store_hash(self, record: dict) -> dict:
        """`record` with the store it came from (the tap's own store)."""
        store_hash = self.store_hash
        if type(record) is RawRecord:
            # Written as the API sent it: the field goes in front of the JSON object.
            body = bytes(record.raw)
            head = b'{"store_hash":' + msgspec.json.encode(store_hash)
            record.raw = msgspec.Raw(head + (b"," + body[1:] if body[1:].strip() != b"}" else b"}"))
        record["store_hash"] = store_hash
        return record

    @cached_property
    def _convert(self) -> t.Callable[[t.Any], t.Any]:
        return compile_record_converter(
            self.schema, self._note_unknown, money_as_text=self.money_as_text
        )

    @property
    def money_as_text(self) -> bool:
        """Whether the API sends this stream's money as text (v2) rather than numbers."""
        raise NotImplementedError

    def _note_unknown(self, names: set[str]) -> None:
        new = names - self._unknown_seen
        if new:
            self._unknown_seen |= new
            self.logger.warning(
                "%s: fields not in the schema were dropped: %s", self.name, sorted(new)
            )

    @cached_property
    def _everything_selected(self) -> bool:
        return all(self.mask.values())

    @cached_property
    def _default_maps(self) -> bool:
        """No stream map or flattening changes this stream's records."""
        return all(
            type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
            for stream_map in self.stream_maps
        )

    def _generate_record_messages(self, record: dict) -> t.Generator[RecordMessage, None, None]:
        if not self._everything_selected:
            yield from super()._generate_record_messages(record)
            return
        extracted = dt.datetime.now(tz=dt.timezone.utc)
        if type(record) is RawRecord:
            # Only ever read with every field selected and the default maps: written as is.
            for stream_map in self.stream_maps:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=t.cast("dict", record.raw),
                    version=self._stream_version,
                    time_extracted=extracted,
                )
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted,
                )
