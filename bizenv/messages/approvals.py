"""Messages of the approvals area (keys start with 'approvals.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
