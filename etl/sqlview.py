"""The job runner for `kind: sql_view` sources: read a view since its cursor, load each chunk with its cursor.

Each chunk's facts, quarantined rows, dirty (region, month) pairs and the saved cursor commit in one warehouse
transaction, so a crash leaves the warehouse as it was before that chunk and the next run resumes after the last
committed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pandas as pd

from etl.datasets.base import Prepared, source_field
from etl.extract.sql_view import DEFAULT_CHUNK_SIZE, SqlViewExtractor
from etl.load import read_cursor, save_cursor
from etl.pipeline import prefetch
from models.config import Config, JobSettings, SqlViewSource, resolve_sqlite_url
from models.db import Warehouse

if TYPE_CHECKING:
    from etl.jobs import RunSummary

Progress = Callable[[str], None]


def extractor_for(*, config: Config, name: str, job: JobSettings,
                  chunk_size: int = DEFAULT_CHUNK_SIZE) -> SqlViewExtractor:
    """The extractor a job's source and dataset describe (relative SQLite paths resolve against the config)."""
    from etl.jobs import DATASETS, JobError  # local: etl.jobs registers this runner

    source = config.sources[job.source]
    if not isinstance(source, SqlViewSource):
        raise JobError(f"jobs.{name}.source: source {job.source!r} is {source.kind}, not sql_view")
    dataset = DATASETS[job.dataset]
    return SqlViewExtractor(url=resolve_sqlite_url(source.url, config.base_dir), view=source.view,
                            cursor_column=source.cursor_column,
                            key_column=source_field(dataset.ALIASES, job.fields, dataset.KEY_FIELD),
                            chunk_size=chunk_size)


def run_sql_view_job(*, warehouse: Warehouse, config: Config, name: str, job: JobSettings, summary: RunSummary,
                     progress: Progress | None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Pull a view since its saved cursor; every chunk commits together with the cursor that follows it."""
    from etl.jobs import DATASETS, job_context, load_batch  # local: etl.jobs registers this runner

    dataset = DATASETS[job.dataset]
    extractor = extractor_for(config=config, name=name, job=job, chunk_size=chunk_size)
    stream = config.sources[job.source].view
    with warehouse.engine.connect() as conn:
        since = read_cursor(conn=conn, source=job.source, stream=stream)
    ctx = job_context(warehouse, config, summary.run_id, dataset)
    started = time.perf_counter()
    def prepared_batches() -> Iterator[tuple[str, int, Prepared]]:
        """Each chunk's cursor, row count and prepared rows: what the loader needs, not the chunk itself."""
        for batch in extractor.batches(since=since):
            lines = pd.Series(range(batch.first_line, batch.first_line + len(batch.frame)), index=batch.frame.index)
            yield batch.cursor, len(batch.frame), dataset.prepare(batch.frame, source=batch.source, ctx=ctx,
                                                                  fields=job.fields, lines=lines)

    for cursor, read, prepared in prefetch(prepared_batches()):
        with warehouse.engine.begin() as conn:
            load_batch(conn, dataset, prepared, summary)
            save_cursor(conn=conn, source=job.source, stream=stream, value=cursor, run_id=summary.run_id)
        summary.rows_read += read
        if progress:
            rate = summary.rows_read / max(time.perf_counter() - started, 1e-9)
            progress(f"{name}: {summary.rows_read:,} rows read ({rate:,.0f} rows/s)")
