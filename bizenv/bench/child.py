"""Run one measured phase in a fresh interpreter, so its peak memory is its own.

`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` cannot tell phases apart: it is the largest of all children waited
for so far, and on Linux a child's own `ru_maxrss` starts at its parent's peak (exec keeps the high-water mark of
the address space it replaces). The child therefore reads `VmHWM` from `/proc/self/status`, the peak resident
set of its own address space since exec, and returns it with the phase's result.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    """A `Vm…` field of /proc/self/status in KiB, or None where there is no /proc."""
    try:
        for line in STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """This process's peak resident set in MB (VmHWM; ru_maxrss where there is no /proc)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = raw // 1024 if sys.platform == "darwin" else raw  # bytes on macOS, KiB elsewhere
    return kib / 1024


def rss_mb() -> float:
    """This process's resident set now, in MB (0 where there is no /proc)."""
    return (_status_kib("VmRSS") or 0) / 1024


def children_peak_rss_mb() -> float:
    """The largest peak resident set among the child processes this one has waited for, in MB (0 without any).

    For the ETL's producer, forked from the job, it counts the pages it still shares with the job as well, so the
    job's peak plus this bounds the two together from above."""
    raw = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (raw // 1024 if sys.platform == "darwin" else raw) / 1024


def _measured(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    before = rss_mb()
    result = dict(fn(**kwargs))
    result["rss_before_mb"] = round(before, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["children_peak_rss_mb"] = round(children_peak_rss_mb(), 1)
    return result


def in_child(fn: Callable[..., dict[str, Any]], /, **kwargs: Any) -> dict[str, Any]:
    """fn(**kwargs) in a new spawned interpreter; the result gains `peak_rss_mb`, `rss_before_mb` (after imports)
    and `children_peak_rss_mb`."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, fn, kwargs).result()
