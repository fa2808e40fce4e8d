"""The producer (a forked process, or a thread) keeps batches in order, hands its errors to the loader, and stops when
the loader stops or dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl.datasets.base import Prepared
from etl.extract.files import FileRejected
from etl.pipeline import MODE_ENV, ProducerTraceback, prefetch, producer_mode
from tests.conftest import REPO

MODES = ["process", "thread"]


def _children(parent: int | None = None) -> set[int]:
    """Live (not zombie) child processes of this one (or of `parent`), from /proc."""
    me, found = parent or os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _prepared(n: int, seed: int) -> Prepared:
    """A batch like the loader's: numpy, object, nullable and Arrow columns, and a rejects frame."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({
        "case_id": pd.array([f"C{seed}-{i}" for i in range(n)], dtype=pd.ArrowDtype(pa.string())),
        "region_code": np.array(["140702", "140703"] * (n // 2) + ["140702"] * (n % 2), dtype=object),
        "working_days": pd.array(rng.integers(0, 30, n), dtype="Int64"),
        "accepted_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        "ratio": pd.array(rng.random(n), dtype=pd.ArrowDtype(pa.float64())),
        "done": pd.array([i % 3 == 0 for i in range(n)], dtype=pd.ArrowDtype(pa.bool_())),
    })
    rows.loc[rows.index[::7], "working_days"] = pd.NA
    rejects = pd.DataFrame({"line": [seed], "reason": ["bad_accepted_at"], "raw": ['{"SBLSH": "x"}']})
    return Prepared(rows=rows, rejects=rejects)


@pytest.mark.parametrize("mode", MODES)
def test_items_arrive_in_order_and_all_of_them(mode: str) -> None:
    assert list(prefetch(range(1000), depth=3, mode=mode)) == list(range(1000))


def test_both_modes_deliver_equal_batches_in_the_same_order() -> None:
    def batches() -> Iterator[tuple[str, int, Prepared]]:
        for k in range(6):
            yield f"2026-03-0{k + 1} 10:00:00", 500 + k, _prepared(500 + k, seed=k)

    expected = list(batches())
    for mode in MODES:
        got = list(prefetch(batches(), mode=mode))
        assert [(c, n) for c, n, _ in got] == [(c, n) for c, n, _ in expected], mode
        for (_, _, want), (_, _, have) in zip(expected, got, strict=True):
            pd.testing.assert_frame_equal(have.rows, want.rows)
            pd.testing.assert_frame_equal(have.rejects, want.rejects)
            assert list(have.rows.dtypes) == list(want.rows.dtypes)


def test_the_process_producer_runs_in_another_process() -> None:
    assert [pid for pid in prefetch((os.getpid() for _ in range(2)), mode="process")] != [os.getpid()] * 2
    assert list(prefetch((os.getpid() for _ in range(2)), mode="thread")) == [os.getpid()] * 2


@pytest.mark.parametrize("mode", MODES)
def test_a_producer_error_reaches_the_consumer_after_the_good_items(mode: str) -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    seen = []
    with pytest.raises(ValueError, match="page 3 is malformed") as caught:
        for item in prefetch(items(), mode=mode):
            seen.append(item)
    assert seen == [1, 2]
    if mode == "process":  # the child's traceback rides along as the cause, naming where it was raised
        assert isinstance(caught.value.__cause__, ProducerTraceback)
        assert "page 3 is malformed" in caught.value.__cause__.text and "in items" in caught.value.__cause__.text


def test_a_project_error_keeps_its_type_and_one_that_cannot_pickle_becomes_a_runtime_error() -> None:
    class Local(Exception):  # a class pickle cannot find by name
        pass

    def raising(exc: Exception) -> Iterator[int]:
        yield 1
        raise exc

    with pytest.raises(FileRejected) as caught:
        list(prefetch(raising(FileRejected("a.csv: bad header", "a.csv：表头错误")), mode="process"))
    assert (caught.value.reason_en, caught.value.reason_zh) == ("a.csv: bad header", "a.csv：表头错误")
    with pytest.raises(RuntimeError, match=r"Local\('no way back'\)"):
        list(prefetch(raising(Local("no way back")), mode="process"))


def test_an_item_that_cannot_be_pickled_is_a_clear_error() -> None:
    def items() -> Iterator[object]:
        yield 1
        yield threading.Lock()

    seen = []
    with pytest.raises(TypeError, match="cannot hand a lock to the loader"):
        for item in prefetch(items(), mode="process"):
            seen.append(item)
    assert seen == [1]
    assert not _children()


def test_a_producer_that_dies_is_an_error_not_a_hang() -> None:
    def items() -> Iterator[int]:
        yield 1
        os._exit(3)

    with pytest.raises(RuntimeError, match="ended without finishing"):
        list(prefetch(items(), mode="process"))
    assert not _children()


def test_a_consumer_that_stops_stops_the_producer_thread_within_depth() -> None:
    produced = []
    finished = threading.Event()

    def items() -> Iterator[int]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            finished.set()

    stream = prefetch(items(), depth=2, mode="thread")
    assert next(stream) == 0
    stream.close()  # the loader failed or was done: the producer must not run on
    assert finished.wait(5)
    assert len(produced) <= 1 + 2 + 2  # the one consumed, the queue, one waiting to be put, one being made
    assert not any(t.name == "etl-prefetch" and t.is_alive() for t in threading.enumerate())


def test_a_consumer_that_stops_ends_and_reaps_the_producer_process(tmp_path: Path) -> None:
    marks = tmp_path / "made"

    def items() -> Iterator[bytes]:
        for i in range(10_000):
            with marks.open("a") as f:
                f.write(f"{i}\n")
            yield bytes(256 * 1024)  # bigger than the pipe's buffer, like a real batch

    stream = prefetch(items(), mode="process")
    assert len(next(stream)) == 256 * 1024
    assert len(_children()) == 1
    stream.close()  # returns only once the child is gone
    assert not _children()  # reaped: no zombie either
    made = marks.read_text().split()
    assert len(made) <= 1 + 1 + 1  # the one consumed, one handed over, one being made: the pipe holds no more


def test_a_consumer_that_fails_stops_the_producer_process_that_is_busy() -> None:
    started = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        while True:  # a long batch: the child does not look at the pipe until it is made
            pass

    with pytest.raises(KeyError):
        for _ in prefetch(items(), mode="process"):
            started.set()
            raise KeyError("load failed")
    assert started.is_set()
    assert not _children()


def test_a_producer_process_can_be_started_from_a_worker_thread() -> None:
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.extend(prefetch(range(50), mode="process")))
    worker.start()
    worker.join()
    assert got == list(range(50))


def test_a_started_generator_is_refused_by_the_process_producer() -> None:
    items = iter(x for x in range(3))
    next(items)
    with pytest.raises(ValueError, match="has not started"):
        prefetch(items, mode="process")


def test_a_failed_fork_falls_back_to_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert list(prefetch((os.getpid() for _ in range(3)), mode="process")) == [os.getpid()] * 3


def test_the_environment_chooses_the_thread_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODE_ENV, raising=False)
    assert producer_mode() == "process"
    monkeypatch.setenv(MODE_ENV, "thread")
    assert producer_mode() == "thread"
    seen_in = list(prefetch((os.getpid() for _ in range(1)), depth=1))
    assert seen_in == [os.getpid()]
    monkeypatch.setenv(MODE_ENV, "Process")
    assert producer_mode() == "process"


KILLED_PARENT = textwrap.dedent("""
    import sys, time
    from etl.pipeline import prefetch

    def items():
        yield 0
        if sys.argv[1] == "busy":
            while True:  # making a long batch: the child does not touch the pipe
                pass
        while True:
            yield bytes(256 * 1024)  # the child waits to hand this over

    stream = prefetch(items(), mode="process")
    next(stream)
    print("started", flush=True)
    time.sleep(600)  # the loader is busy
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("child_is", ["waiting", "busy"])
def test_a_parent_killed_with_sigkill_takes_its_producer_process_with_it(child_is: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PARENT, child_is], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        children = _children(proc.pid)
        assert len(children) == 1, children
        child = children.pop()
        assert Path(f"/proc/{child}/comm").read_text().strip() == "etl-producer"
        assert _alive(child)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    deadline = time.monotonic() + 10  # the kernel's death signal is asynchronous: wait for it, boundedly
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = _alive(child)
    if survived:
        os.kill(child, signal.SIGKILL)  # not left spinning by a failed test
    assert not survived, "the producer process outlived its killed parent"
