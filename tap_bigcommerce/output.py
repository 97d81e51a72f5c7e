"""Writing Singer messages: msgspec encoding, and stdout flushed at STATE, not per record."""

from __future__ import annotations

import atexit
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

    #: Bytes gathered before one write to stdout: a few dozen records, not one each.
    CHUNK = 1 << 16

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        #: The last STATE line written: what a stopped run may still claim.
        self.last_state: bytes | None = None
        # Whatever is still gathered when the tap ends (a run without a final STATE, such
        # as `--test`, or one that stopped on an error) is written then.
        atexit.register(self.flush)

    def write_message(self, message: Message) -> None:
        """Buffer the message; push it and everything before it out if it is a STATE."""
        line = self.format_message(message)
        self._pending += line
        if isinstance(message, StateMessage):
            self.last_state = bytes(line)
            self.flush()
        elif len(self._pending) >= self.CHUNK:
            self.flush()

    def end_with_last_state(self) -> None:
        """Write what is gathered, then the last STATE again, so that the output ends with it.

        For a run stopped by a signal (once the reading has stopped): the tap's state in
        memory may cover parents whose child rows are still to be written, while every STATE
        written covers only rows out.
        """
        self.flush()
        if self.last_state is not None:
            self._pending += self.last_state
            self.flush()

    def flush(self) -> None:
        """Write out every whole line gathered so far."""
        if not self._pending:
            return
        # Taken before it is written: a write that fails part way (a closed pipe) must not
        # leave its bytes to be written again, at exit, after the part that went out.
        lines = memoryview(bytes(self._pending))
        self._pending.clear()
        out = sys.stdout.buffer
        while lines:
            # A signal that comes while a full pipe blocks the write ends it part way, and
            # the rest must follow (measured: 46,952 bytes of 67,432 taken, then the run
            # went on with the next lines).
            taken = out.write(lines)
            if not taken:  # a non-blocking stdout that is full: say so rather than spin
                raise BlockingIOError("stdout took none of the output")
            lines = lines[taken:]
        out.flush()
