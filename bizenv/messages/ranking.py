"""Messages of the ranking area (keys start with 'ranking.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
