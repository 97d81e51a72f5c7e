"""Writing Singer messages: msgspec encoding, and stdout flushed at STATE, not per record."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import StateMessage
from singer_sdk.singerlib.encoding.simple import Message


class StateFlushingWriter(MsgSpecWriter):
    """Flush stdout only with each STATE message (and when the buffer fills).

    Flushing after every record costs a system call per record. Flushing with STATE keeps the
    one property that matters: a STATE line never reaches the target before the records it
    covers, so a crash loses only records that the next run reads again anyway.
    """

    def write_message(self, message: Message) -> None:
        """Buffer the message; push it and everything before it out if it is a STATE."""
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()
            sys.stdout.buffer.flush()
