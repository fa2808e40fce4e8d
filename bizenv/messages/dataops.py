"""Messages of the dataops area (keys start with 'dataops.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
