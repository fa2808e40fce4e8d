"""Messages of the submissions area (keys start with 'submissions.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
