"""Workbooks read by python-calamine in child processes, so a damaged file costs a refusal, not the ETL run.

calamine allocates whatever a damaged .xls claims, or a dense grid up to a stray cell in XFD1048576, and when that
fails it aborts the whole process (tafia/calamine#550, #714). So every workbook is read in a child process with a
memory cap and a time limit. The children are kept and reused: starting Python and importing calamine takes about
27 ms, while reading a county's monthly workbook takes a quarter of a millisecond, so a child per file made a year
of 122 county workbooks spend over 3 s starting interpreters. A child that fails on a file exits, and the next file
gets a fresh one; an idle child leaves by itself after a while, or when the process that started it ends.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

MEMORY_BYTES = 2 << 30  # address space a reader process may take
SECONDS = 120  # and the time one workbook may take
IDLE_SECONDS = 30  # a reader unused this long is not reused (it exits by itself at twice this)
_HEADER = struct.Struct(">Q")
_REQUEST = struct.Struct(">I")

_READER = """
import pickle, select, struct, sys
try:
    import resource
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int(sys.argv[1]) if hard == resource.RLIM_INFINITY else min(int(sys.argv[1]), hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
except (ImportError, ValueError, OSError):
    pass
from python_calamine import CalamineWorkbook
src, out = sys.stdin.buffer, sys.stdout.buffer
while select.select([src], [], [], float(sys.argv[2]))[0]:
    head = src.read(4)
    if len(head) < 4:
        break  # the parent closed the pipe, or ended
    path = src.read(struct.unpack(">I", head)[0]).decode("utf-8", "surrogateescape")
    try:
        book = CalamineWorkbook.from_path(path)
        sheets = []
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            sheets.append((name, list(sheet.merged_cell_ranges or ()), sheet.to_python(skip_empty_area=False)))
        result = ("ok", sheets)
    except BaseException as exc:  # a pyo3 PanicException is a BaseException
        result = ("error", f"{type(exc).__name__}: {exc}")
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack(">Q", len(data)) + data)
    out.flush()
    if result[0] != "ok":
        break  # after a failure the heap may be in any state: the next file gets a fresh reader
"""

Sheets = list[tuple[str, list, list[list[object]]]]


class WorkbookUnreadable(Exception):
    """The reader could not read the workbook: it said why ("said"), it "stopped", or it "timed_out"."""

    def __init__(self, why: str, *, kind: str) -> None:
        super().__init__(why)
        self.why, self.kind = why, kind


class _Gone(Exception):
    """The reader had already ended before it was asked: not the file's fault."""


@dataclass
class _Reader:
    """One reader process, the memory cap it started with and when it last answered."""

    proc: subprocess.Popen
    cap: int
    stderr: IO[bytes]
    used: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, cap: int) -> _Reader:
        stderr = tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "-I", "-c", _READER, str(cap), str(2 * IDLE_SECONDS)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        return cls(proc=proc, cap=cap, stderr=stderr)

    def fresh(self, cap: int) -> bool:
        return self.proc.poll() is None and self.cap == cap and time.monotonic() - self.used < IDLE_SECONDS

    def read(self, path: Path, seconds: float) -> tuple[str, object]:
        """("ok", sheets) or ("error", why); `_Gone` if it had ended, `WorkbookUnreadable` if it died or hung."""
        name = os.fsencode(path)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(_REQUEST.pack(len(name)) + name)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _Gone from exc
        deadline = time.monotonic() + seconds
        size = _HEADER.unpack(self._take(_HEADER.size, deadline))[0]
        result = pickle.loads(self._take(size, deadline))
        self.used = time.monotonic()
        return result

    def _take(self, n: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd, chunks, left = self.proc.stdout.fileno(), [], n
        while left:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self.close()
                raise WorkbookUnreadable("took too long", kind="timed_out")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise WorkbookUnreadable(self._last_words(), kind="stopped")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _last_words(self) -> str:
        """Why the reader stopped: a Rust abort says why first, a Python traceback last."""
        code = self.proc.wait()
        self.stderr.seek(0)
        said = self.stderr.read().decode("utf-8", errors="replace").strip().splitlines() or [f"exit {code}"]
        self.close()
        return (said[0] if code < 0 else said[-1])[:200]

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


class _Pool:
    """Idle readers of one process; a forked child starts with none (its parent's pipes are not its own)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: list[_Reader] = []

    def take(self, cap: int) -> _Reader:
        with self.lock:
            while self.idle:
                reader = self.idle.pop()
                if reader.fresh(cap):
                    return reader
                reader.close()
        return _Reader.start(cap)

    def give_back(self, reader: _Reader) -> None:
        with self.lock:
            self.idle.append(reader)

    def close(self) -> None:
        with self.lock:
            readers, self.idle = self.idle, []
        for reader in readers:
            reader.close()


_POOL = _Pool()


def _pool() -> _Pool:
    global _POOL
    if _POOL.pid != os.getpid():
        _POOL = _Pool()
    return _POOL


@atexit.register
def close_readers() -> None:
    """End this process's idle readers now (they would end by themselves once idle, or with this process)."""
    if _POOL.pid == os.getpid():
        _POOL.close()


def read_workbook(path: Path, *, memory_bytes: int | None = None, seconds: float | None = None) -> Sheets:
    """Each sheet's name, merged ranges and cell values (from A1); `WorkbookUnreadable` says why it could not."""
    cap, limit = memory_bytes or MEMORY_BYTES, seconds or SECONDS
    pool = _pool()
    for _attempt in range(2):
        reader = pool.take(cap)
        try:
            status, payload = reader.read(path, limit)
        except _Gone:
            reader.close()
            continue
        except BaseException:
            reader.close()
            raise
        if status == "ok":
            pool.give_back(reader)
            return payload  # type: ignore[return-value]
        reader.close()
        raise WorkbookUnreadable(str(payload), kind="said")
    raise WorkbookUnreadable("the reader process ended before it was asked, twice", kind="stopped")
