"""HTTP JSON API extractor: pages through a source by its `updated_since` cursor, retrying transient failures.

Paging is keyset-style on the cursor: after each page the next request asks for rows updated since the newest
timestamp seen, so a row updated mid-run cannot shift the offsets and be skipped. Rows sharing the boundary
timestamp are de-duplicated by key. Only when a full page shares one timestamp does the page number advance.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import pandas as pd
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from etl.extract.api_records import ArrowRecords, Records, RecordsMissing, dict_records
from models.config import HttpApiSource

log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source could not be read; the message names the source, the URL and the reason."""


class _Redirected(Exception):
    """The source answered with a redirect, which is refused so the token is never sent to another address."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        raise _Redirected(f"HTTP {code} redirect to {newurl}")


_OPENER = urllib.request.build_opener(_RefuseRedirects)


class _Transient(Exception):
    """A failure worth retrying: 5xx, 429, a timeout or a refused connection."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page's new records as columns of the values as delivered, where they came from and the cursor value
    the page advances to."""

    number: int
    url: str
    frame: pd.DataFrame
    cursor: str | None


class HttpApiExtractor:
    """Reads one stream (endpoint) of an HTTP JSON API incrementally."""

    def __init__(self, *, settings: HttpApiSource, name: str, stream: str, cursor_field: str, key_field: str,
                 backoff_seconds: float = 0.5) -> None:
        if stream not in settings.endpoints:
            raise SourceError(f"sources.{name}.endpoints: no endpoint named {stream!r}")
        self.settings, self.name, self.stream = settings, name, stream
        self.cursor_field, self.key_field = cursor_field, key_field
        self.backoff_seconds = backoff_seconds
        self._arrow = ArrowRecords(records_path=settings.records_path, total_path=settings.total_path)

    def _url(self, *, page: int, since: str | None) -> str:
        s = self.settings
        params = {s.page_param: page, s.size_param: s.page_size}
        if since:
            params[s.cursor_param] = since
        return s.base_url.rstrip("/") + s.endpoints[self.stream] + "?" + urllib.parse.urlencode(params)

    def _get_once(self, url: str) -> bytes:
        s = self.settings
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        token = s.token()
        if token:
            request.add_header(s.auth_header, f"{s.auth_scheme} {token}".strip())
        try:
            with _OPENER.open(request, timeout=s.timeout_seconds) as resp:
                body = resp.read()
        except _Redirected as exc:
            raise SourceError(f"{self.name}: {url}: {exc}; set base_url to the final address "
                              "(redirects are not followed, so the token is never sent elsewhere)") from None
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(f"HTTP {exc.code}") from exc
            raise SourceError(f"{self.name}: {url} answered HTTP {exc.code}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise _Transient(str(getattr(exc, "reason", exc))) from exc
        return body

    def _get(self, url: str) -> bytes:
        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=30),
            before_sleep=lambda rs: log.warning("%s: %s failed (%s), retry %d", self.name, url,
                                                rs.outcome.exception(), rs.attempt_number),
            reraise=True,
        )
        try:
            return retrying(self._get_once, url)
        except _Transient as exc:
            raise SourceError(
                f"{self.name}: {url} still failing after {self.settings.max_retries} retries: {exc}"
            ) from exc

    def _fetch(self, url: str) -> Records:
        """The page's records, parsed on the fetching thread (Arrow's reader runs without the GIL)."""
        body = self._get(url)
        records = self._arrow.parse(body)
        if records is not None:
            return records
        try:
            return dict_records(body, records_path=self.settings.records_path, total_path=self.settings.total_path)
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{self.name}: {url} returned invalid JSON: {exc}") from exc
        except RecordsMissing as exc:
            raise SourceError(f"{self.name}: {url}: {exc}") from None

    def pages(self, *, since: str | None) -> Iterator[Page]:
        """Every record updated at or after `since`, a page at a time, oldest first.

        The next page is fetched in the background while the caller loads this one, so the source's response
        time overlaps our own work.
        """
        size = self.settings.page_size
        page, boundary, boundary_keys = self.settings.first_page, since, set()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fetch-{self.name}") as pool:
            url = self._url(page=page, since=boundary)
            pending = pool.submit(self._fetch, url)
            while True:
                records = pending.result()
                stamps, keys = records.column(self.cursor_field), records.column(self.key_field)
                fresh = [not (c == boundary and k in boundary_keys) for c, k in zip(stamps, keys, strict=True)]
                given = [str(c) for c in stamps if c]
                newest = max(given) if given else boundary
                this = Page(number=page, url=url, frame=records.frame(fresh), cursor=newest)
                # A short page is the last one, unless the source reports more rows (it may cap the page size).
                seen = (page - self.settings.first_page) * size + len(records)
                last = not len(records) or (len(records) < size and (records.total is None or records.total <= seen))
                if not last:
                    if newest != boundary:
                        at_newest = {k for c, k in zip(stamps, keys, strict=True) if str(c) == newest}
                        boundary, boundary_keys, page = newest, at_newest, self.settings.first_page
                    else:
                        boundary_keys |= set(keys)
                        page += 1
                    url = self._url(page=page, since=boundary)
                    pending = pool.submit(self._fetch, url)
                yield this
                if last:
                    return
