"""Messages of the bulletin area (keys start with 'bulletin.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {}
