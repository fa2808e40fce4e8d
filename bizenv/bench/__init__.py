"""`bizenv bench`: one run that measures the ETL, the marts, the dashboard and the bulletin on generated sources.

Each figure is printed beside what it is compared with, measured in the same run on the same rows: the ETL beside
a raw insert of its rows (the limit) and `DataFrame.to_sql` (the naive way), the dashboard's mart answer beside
DuckDB and pandas scanning the facts live. See docs/performance.md for how to run it and read it.
"""

SECTIONS = ("etl", "marts", "dashboard", "bulletin")
DEFAULT_SCALE = 0.05
DEFAULT_MONTHS = 3
