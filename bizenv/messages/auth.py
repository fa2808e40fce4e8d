"""Messages of the auth area (keys start with 'auth.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
