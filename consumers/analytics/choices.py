"""The names the command line offers as choices (output formats, statistics), importable without
pyarrow or DuckDB: every `ol` command lists them in its help at start-up."""

FORMATS = ("table", "tsv", "csv", "json", "jsonl", "parquet", "markdown", "latex")
STATS = ("final", "min", "max", "mean", "first-crossing")
