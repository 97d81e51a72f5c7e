"""The README says what the code does: settings, streams, keys, field counts, scopes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tap_bigcommerce.replication import ReadWhole
from tap_bigcommerce.schema_files import load_schema
from tap_bigcommerce.stream_base import BigCommerceStream
from tap_bigcommerce.streams import STREAM_TYPES
from tests.taprun import tap_command

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_matches_about():
    about = subprocess.run(
        [*tap_command(), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    generated = re.search(r"^\| Setting .*?(?=\n\n)", about, re.S | re.M)
    documented = re.search(
        r"<!-- settings:start.*?-->\n(.*?)\n<!-- settings:end -->", README.read_text(), re.S
    )
    assert generated and documented
    assert documented.group(1).strip() == generated.group(0).strip()


def _table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table after the line starting with `heading`."""
    text = README.read_text()
    start = text.index(heading)
    table = re.search(r"^\|.*?(?=\n\n)", text[start:], re.S | re.M)
    assert table, heading
    rows = [line.strip("|").split("|") for line in table.group(0).splitlines()[2:]]
    return [[cell.strip() for cell in row] for row in rows]


def test_readme_streams_table_lists_every_stream_with_its_key_and_field_count():
    rows = {re.sub(r"`(\w+)`.*", r"\1", row[0]): row for row in _table_rows("## Streams")}
    assert set(rows) == {stream.name for stream in STREAM_TYPES}
    for stream in STREAM_TYPES:
        row = rows[stream.name]
        assert re.findall(r"`(\w+)`", row[2])[: len(stream.primary_keys)] == stream.primary_keys
        assert int(row[4]) == len(load_schema(stream.name)["properties"]), stream.name
        if isinstance(stream.replication, ReadWhole):
            assert row[3] == "read whole", stream.name


def test_readme_scopes_table_names_each_streams_scope():
    # A stream may be named under several scopes: metafields need each resource's own.
    documented: dict[str, set[str]] = {}
    for scope, streams in _table_rows("| Scope (read-only)"):
        for name in re.findall(r"`(\w+)`", streams):
            documented.setdefault(name, set()).add(scope)
    for stream in STREAM_TYPES:
        if issubclass(stream, BigCommerceStream):
            assert documented.get(stream.name) == set(stream.scopes()), stream.name
