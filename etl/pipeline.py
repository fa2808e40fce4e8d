"""Overlap producing batches (fetching, parsing, validating) with loading them, in a second process.

A producer thread barely overlaps with the loader: building columns and validating is pandas and Python work
that holds the GIL just like the loader's own Python side, so on two cores the run took the sum of both. So by
default the producer runs in a child process forked from the job (fork, because producers are generators over
config, extractor and context objects that cannot be pickled), and each batch reaches the loader pickled through
a pipe. The pipe is the only buffer: the child builds the next batch while the parent loads this one, then waits
until the parent takes it, so at most one batch is made, one handed over and one loaded at a time.

The child never touches the warehouse. It inherits the parent's connections (sockets, SQLite file handles) as
plain file descriptors and must neither use nor close them: it only ever ends with `os._exit` (multiprocessing's
fork start does that), so no finalizer of an inherited connection runs, and objects alive at the fork are frozen
out of its garbage collector. It dies with its parent: the kernel kills it when the forking thread dies
(PR_SET_PDEATHSIG on Linux), and a write to the pipe whose reader is gone fails. The parent stops it when the
loader stops early, and re-raises its errors with their type and message.

Where fork is missing, or `BIZENV_ETL_PRODUCER=thread`, the producer runs on a thread as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import inspect
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Literal, TypeVar

T = TypeVar("T")
Mode = Literal["process", "thread"]

log = logging.getLogger(__name__)

MODE_ENV = "BIZENV_ETL_PRODUCER"  # "process" (the default where fork exists) or "thread"
STOP_GRACE_SECONDS = 2.0  # how long a stopped producer may take to notice before it is terminated, then killed
_DONE = object()
_ITEM, _END, _ERROR = "item", "end", "error"
_PR_SET_PDEATHSIG, _PR_SET_NAME = 1, 15


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ProducerTraceback(Exception):
    """The producer process's own traceback, set as the cause of an error it raised (tracebacks do not pickle)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\nin the ETL producer process:\n{self.text}"


def producer_mode() -> Mode:
    """Where producers run: a forked process unless fork is missing or the environment asks for a thread."""
    wanted = os.environ.get(MODE_ENV, "").strip().lower() or "process"
    if wanted not in ("process", "thread"):
        log.warning("%s=%r is neither 'process' nor 'thread': using 'process'", MODE_ENV, wanted)
        wanted = "process"
    if wanted == "process" and "fork" not in multiprocessing.get_all_start_methods():
        return "thread"
    return wanted  # type: ignore[return-value]


def prefetch(items: Iterable[T], *, depth: int = 2, mode: Mode | None = None) -> Iterator[T]:
    """Iterate `items` ahead of the consumer, in order; the consumer sees the producer's exceptions.

    `items` must not have been started: in a process its iteration runs in the child, and its items must pickle.
    `depth` bounds the items waiting on the thread path; the process path hands over one item at a time.
    """
    if (mode or producer_mode()) == "thread":
        return _prefetch_thread(items, depth=depth)
    if inspect.isgenerator(items) and inspect.getgeneratorstate(items) != inspect.GEN_CREATED:
        raise ValueError("prefetch needs a generator that has not started: a forked producer cannot resume one")
    return _prefetch_process(items, depth=depth)


def _prefetch_thread(items: Iterable[T], *, depth: int) -> Iterator[T]:
    """The producer on a background thread, `depth` ahead of the consumer."""
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


def _prefetch_process(items: Iterable[T], *, depth: int) -> Iterator[T]:
    """The producer in a forked child; items come back pickled through a pipe, one at a time."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_produce, name="etl-producer", daemon=True,
                            args=(items, reader, writer, os.getpid()))
    gc.freeze()  # objects alive now (the parent's connections among them) are never collected by the child
    try:
        child.start()
    except OSError as exc:  # no memory or process slot for a fork: the run still goes on, on a thread
        log.warning("cannot fork the ETL producer (%s): producing on a thread", exc)
        forked = False
    else:
        forked = True
    finally:
        gc.unfreeze()
        writer.close()  # the child holds the only write end, so its death reads as end of file
    if not forked:
        reader.close()
        yield from _prefetch_thread(items, depth=depth)
        return
    try:
        while True:
            kind, payload = _receive(reader, child)
            if kind == _END:
                return
            if kind == _ERROR:
                exc, text = payload
                raise exc from ProducerTraceback(text)
            yield payload
    finally:
        reader.close()  # a child blocked handing over its next item gets EPIPE and exits at once
        _stop(child)


def _receive(reader: Connection, child: multiprocessing.process.BaseProcess) -> tuple[str, object]:
    """The child's next message; a child that died without one is an error, not a hang."""
    while not reader.poll():
        wait([reader, child.sentinel])
        if not reader.poll() and child.exitcode is not None:
            raise RuntimeError(f"the ETL producer process ended without finishing (exit code {child.exitcode})")
    try:
        data = reader.recv_bytes()
    except EOFError:
        child.join(STOP_GRACE_SECONDS)
        raise RuntimeError(f"the ETL producer process ended without finishing (exit code {child.exitcode})") \
            from None
    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the item cannot reach the loader
        raise RuntimeError(f"the ETL producer sent an item the loader cannot read: {exc!r}") from exc


def _stop(child: multiprocessing.process.BaseProcess) -> None:
    """Reap the child: it exits by itself once it sees the pipe closed or has finished; else end it."""
    child.join(STOP_GRACE_SECONDS)
    if child.exitcode is None:
        child.terminate()
        child.join(STOP_GRACE_SECONDS)
    if child.exitcode is None:
        child.kill()
        child.join()
    child.close()


def _produce(items: Iterable[object], reader: Connection, writer: Connection, parent_pid: int) -> None:
    """The child: iterate the producer, send each item, then the end or the error; exit at once if unwanted."""
    reader.close()  # only the parent may hold the read end, so a dead parent makes the next send fail
    _bind_to_parent(parent_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (the scheduler stops itself on it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the child
    source = iter(items)
    try:
        for item in source:
            _send(writer, (_ITEM, item))
        _send(writer, (_END, None))
    except _Unwanted:
        _leave()
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
        text = "".join(traceback.format_exception(exc))
        try:
            _send(writer, (_ERROR, (_portable(exc), text)))
        except _Unwanted:
            _leave()
    writer.close()


class _Unwanted(Exception):
    """The parent no longer reads: it stopped early or died."""


def _send(writer: Connection, message: tuple[str, object]) -> None:
    try:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an item that cannot pickle is a bug in the producer; say which
        raise TypeError(f"the ETL producer cannot hand a {type(message[1]).__name__} to the loader: {exc}") from exc
    try:
        writer.send_bytes(data)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise _Unwanted from exc


def _leave() -> None:
    """End the child now: nothing it holds needs cleaning up, and the producer's own clean-up may block (retries)."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)


def _portable(exc: BaseException) -> BaseException:
    """The error itself if it survives pickling with its type and message, else a RuntimeError with its repr."""
    try:
        copy = pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))
        if type(copy) is type(exc) and str(copy) == str(exc):
            return exc
    except Exception:  # noqa: BLE001 - any failure means it cannot cross as itself
        pass
    return RuntimeError(repr(exc))


def _bind_to_parent(parent_pid: int) -> None:
    """Have the kernel kill this child when the parent dies (Linux), and leave now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))
            libc.prctl(ctypes.c_int(_PR_SET_NAME), ctypes.c_char_p(b"etl-producer"), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))  # what ps and top show for the child
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
