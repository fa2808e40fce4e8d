"""Overlap producing batches (fetching, parsing, validating) with loading them, on a second thread.

Loading spends most of its time inside SQLite or PostgreSQL, which release the GIL, and fetching waits on the
network; so one producer thread keeps the second core busy while the loader writes. Batches stay in order, at most
`depth` wait in memory, and an error on either side stops both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Iterate `items` on a background thread, `depth` ahead of the consumer; the consumer sees its exceptions."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(source, "close", None)  # a generator's own clean-up (e.g. an HTTP session) runs here
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="etl-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()
