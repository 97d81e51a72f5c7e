"""Each way of reading a stream, once; `reader_for` picks one from a stream's declaration.

`incremental` reads a listing by keyset on its date (serially, or side by side as
`incremental_v3` and `incremental_v2` do for their flavour); `whole` reads a listing whole,
for streams with no bookmark; `children` hands rows that come inside parents to the child
streams; `progress` writes the progress lines.
"""

from __future__ import annotations

import typing as t

from tap_bigcommerce.readers.incremental import IncrementalReader
from tap_bigcommerce.readers.whole import WholeReader
from tap_bigcommerce.replication import Incremental, ReadWhole

if t.TYPE_CHECKING:
    from tap_bigcommerce.pagination import Flavour
    from tap_bigcommerce.stream_base import BigCommerceStream


def reader_for(
    stream: BigCommerceStream, flavour: Flavour | None = None
) -> IncrementalReader | WholeReader:
    """The reader of a top-level stream, from its `replication` (of `flavour`'s endpoint)."""
    if isinstance(stream.replication, Incremental):
        return IncrementalReader(stream, stream.replication, flavour)
    if isinstance(stream.replication, ReadWhole):
        return WholeReader(stream, stream.replication)
    raise NotImplementedError(f"{stream.name}: no reader for {stream.replication!r}")


__all__ = ["IncrementalReader", "WholeReader", "reader_for"]
