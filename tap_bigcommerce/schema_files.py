"""The JSON Schema files in `schemas/`, one per stream."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path


def schema_dir() -> Path:
    """`schemas/` inside an installed wheel, or at the top of a source checkout."""
    packaged = resources.files("tap_bigcommerce") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas"


#: The field every record carries first: the store it came from (`stores.py`).
STORE_HASH_PROPERTY = {
    "type": "string",
    "description": "The store the record comes from: its hash in the API path.",
}


def load_schema(name: str) -> dict:
    """The JSON Schema of stream `name`, with `store_hash` first (every key starts with it)."""
    schema = json.loads((schema_dir() / f"{name}.json").read_text(encoding="utf-8"))
    schema["properties"] = {"store_hash": STORE_HASH_PROPERTY, **schema["properties"]}
    return schema
