"""Parts of the one message catalogue, one module per area, merged into `bizenv.i18n.MESSAGES`.

Each module holds `MESSAGES = {key: {"zh": ..., "en": ...}}` with keys prefixed by its area (e.g. `ranking.`),
so areas can grow side by side; a key defined twice stops the import.
"""
