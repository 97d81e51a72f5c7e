"""Keep the API key out of every log line, whoever writes it.

The tap never formats the key into a message; this is the second line of defence for
messages written by libraries (the SDK, urllib3) at any log level.
"""

from __future__ import annotations

import logging
import typing as t

SECRET_SETTINGS = ("access_token", "api_key")
MASK = "****"

_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    """Replace every known secret in `text` with a mask."""
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def install_redaction(config: t.Mapping[str, t.Any]) -> None:
    """Remember the secrets in `config` and scrub them from all log records from now on."""
    global _installed
    # Very short values would mask innocent text; a real key is 30+ characters.
    stores = config.get("stores")
    entries = (
        [config, *(e for e in stores if isinstance(e, dict))]
        if isinstance(stores, list)
        else [config]
    )
    _secrets.update(
        str(entry[name])
        for entry in entries
        for name in SECRET_SETTINGS
        if entry.get(name) and len(str(entry[name])) >= 4
    )
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def scrubbed_record(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(scrubbed_record)
