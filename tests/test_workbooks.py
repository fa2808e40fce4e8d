"""Workbook reader processes: reused across files, replaced after a failure, a death or a hang, never shared."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook

from etl.extract import workbooks
from etl.extract.workbooks import WorkbookUnreadable, read_workbook


@pytest.fixture(autouse=True)
def _own_pool() -> Iterator[None]:
    """Each test starts with no idle reader and leaves none behind."""
    workbooks.close_readers()
    yield
    workbooks.close_readers()


def _book(path: Path, *rows: list[object]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.active.title = "月报"
    wb.save(path)
    return path


def _idle_pids() -> list[int]:
    return [r.proc.pid for r in workbooks._pool().idle]


def test_one_reader_reads_file_after_file(tmp_path: Path) -> None:
    first = _book(tmp_path / "a.xlsx", ["乡镇", "户数"], ["古陶镇", 12])
    second = _book(tmp_path / "b.xlsx", ["乡镇", "户数"], ["昭馀镇", 7], ["东观镇", 3])
    assert read_workbook(first) == [("月报", [], [["乡镇", "户数"], ["古陶镇", 12.0]])]
    [pid] = _idle_pids()
    assert read_workbook(second) == [("月报", [], [["乡镇", "户数"], ["昭馀镇", 7.0], ["东观镇", 3.0]])]
    assert _idle_pids() == [pid]


def test_a_file_the_reader_refuses_costs_that_reader_and_the_next_file_gets_a_fresh_one(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", ["乡镇"], ["古陶镇"])
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a zip file")
    read_workbook(good)
    [before] = _idle_pids()
    with pytest.raises(WorkbookUnreadable) as err:
        read_workbook(bad)
    assert err.value.kind == "said" and "zip" in err.value.why.lower()
    assert _idle_pids() == []
    assert read_workbook(good)[0][2] == [["乡镇"], ["古陶镇"]]
    assert _idle_pids() not in ([], [before])


def test_a_reader_that_died_while_idle_is_replaced_without_blaming_the_file(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", ["乡镇"], ["古陶镇"])
    read_workbook(good)
    [pid] = _idle_pids()
    os.kill(pid, signal.SIGKILL)
    workbooks._pool().idle[0].proc.wait()  # it died long before the next file came, as an idle reader does
    assert read_workbook(good)[0][2] == [["乡镇"], ["古陶镇"]]
    assert _idle_pids() != [pid]


def test_a_hung_read_is_cut_off_and_its_reader_ended(tmp_path: Path) -> None:
    fifo = tmp_path / "hangs.xlsx"
    os.mkfifo(fifo)  # opening a named pipe with no writer blocks the reader for good
    with pytest.raises(WorkbookUnreadable) as err:
        read_workbook(fifo, seconds=1)
    assert err.value.kind == "timed_out"
    assert _idle_pids() == []
    good = _book(tmp_path / "good.xlsx", ["乡镇"], ["古陶镇"])
    assert read_workbook(good)[0][2] == [["乡镇"], ["古陶镇"]]


def test_a_reader_that_aborts_on_a_far_cell_stops_and_says_so(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active.append(["乡镇"])
    wb.active.cell(1_048_576, 16_384, "x")  # calamine allocates a 1M x 16k grid for this, and aborts
    far = tmp_path / "far.xlsx"
    wb.save(far)
    with pytest.raises(WorkbookUnreadable) as err:
        read_workbook(far, memory_bytes=512 << 20)
    assert err.value.kind == "stopped" and err.value.why.startswith("memory allocation of")
    assert _idle_pids() == []
    assert read_workbook(_book(tmp_path / "good.xlsx", ["乡镇"], ["古陶镇"]))[0][2] == [["乡镇"], ["古陶镇"]]


def test_a_forked_child_never_uses_its_parents_readers(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", ["乡镇"], ["古陶镇"])
    read_workbook(good)
    [parent_reader] = _idle_pids()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            rows = read_workbook(good)[0][2]
            pids = _idle_pids()
            os.write(write, f"{rows == [['乡镇'], ['古陶镇']]} {pids[0] if pids else 0}".encode())
        finally:
            workbooks.close_readers()
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    ok, child_reader = os.read(read, 100).decode().split()
    os.close(read)
    assert ok == "True" and int(child_reader) not in (0, parent_reader)
    assert _idle_pids() == [parent_reader]
    assert read_workbook(good)[0][2] == [["乡镇"], ["古陶镇"]]
