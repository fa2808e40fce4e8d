"""Demo source systems for Jinzhong: a deterministic generator and the approval platform's HTTP API.

Exports are resolved lazily, so `python -m etl.demo.approval_api` starts without importing numpy or pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JINZHONG_UNITS", "UnitSpec", "generate_sources", "serve_in_thread", "start_process"]


def __getattr__(name: str) -> Any:
    if name in {"JINZHONG_UNITS", "UnitSpec", "generate_sources"}:
        from etl.demo import generator

        return getattr(generator, name)
    if name in {"serve_in_thread", "start_process"}:
        from etl.demo import approval_api

        return getattr(approval_api, name)
    raise AttributeError(f"module 'etl.demo' has no attribute {name!r}")
