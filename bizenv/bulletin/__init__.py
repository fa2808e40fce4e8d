"""The monthly bulletin (月度通报): content from the marts, PDF/XLSX/DOCX renderers, archive and scheduled job.

The dashboard's bulletin page needs only these:
- `generate_bulletins(warehouse=, config=, period=, region_codes=, formats=, viewer=, progress=)` in a background
  task: builds and archives, calling `progress(done, total, region_code)`;
- `list_archive(session=, viewer=, ...)`: the archive, scoped to the viewer;
- `open_archived(session=, viewer=, report_id=, config=)`: the exact bytes for a download, or
  `BulletinAccessDenied` (a PermissionError) for a county viewer asking for another edition.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ArchiveEntry": "archive", "ArchivedFile": "archive", "archive_root": "archive",
    "check_edition_access": "archive", "list_archive": "archive", "open_archived": "archive",
    "BulletinAccessDenied": "errors", "BulletinError": "errors", "ChromeMissing": "errors", "FontMissing": "errors",
    "NoData": "errors", "FORMATS": "service", "BuiltBulletin": "service", "archive_bulletin": "service",
    "build_bulletin": "service", "edition_regions": "service", "generate_bulletins": "service",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import on first use, so the scheduler and the CLI load plotly and reportlab only when building."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
