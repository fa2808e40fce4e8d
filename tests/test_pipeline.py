"""The prefetch thread keeps batches in order, hands producer errors to the loader, and stops when it stops."""

from __future__ import annotations

import threading

import pytest

from etl.pipeline import prefetch


def test_items_arrive_in_order_and_all_of_them() -> None:
    assert list(prefetch(range(1000), depth=3)) == list(range(1000))


def test_a_producer_error_reaches_the_consumer_after_the_good_items() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    seen = []
    with pytest.raises(ValueError, match="page 3 is malformed"):
        for item in prefetch(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_stops_the_producer_within_depth() -> None:
    produced = []
    finished = threading.Event()

    def items():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            finished.set()

    stream = prefetch(items(), depth=2)
    assert next(stream) == 0
    stream.close()  # the loader failed or was done: the producer must not run on
    assert finished.wait(5)
    assert len(produced) <= 1 + 2 + 2  # the one consumed, the queue, one waiting to be put, one being made
    assert not any(t.name == "etl-prefetch" and t.is_alive() for t in threading.enumerate())
