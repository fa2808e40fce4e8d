"""Errors the bulletin raises with a message for a person, never a stack trace."""

from __future__ import annotations


class BulletinError(Exception):
    """A bulletin could not be built; the message says why and what to do."""


class ChromeMissing(BulletinError):
    """No Chrome or Chromium for kaleido to export the charts with."""


class FontMissing(BulletinError):
    """The CJK font the PDF embeds is not installed."""


class NoData(BulletinError):
    """The month has no KPI values."""


class BulletinAccessDenied(PermissionError):
    """A viewer asked for an edition outside its scope (a county bureau asking for another county or the city)."""
