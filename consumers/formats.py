"""Writing an Arrow table as text or files: table, csv, json, jsonl, parquet, markdown, latex."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ol.schemas import OlError

FORMATS = ("table", "csv", "json", "jsonl", "parquet", "markdown", "latex")


def render_text(table: pa.Table, fmt: str, precision: int | None = None) -> str:
    """The table as text in a text format (everything but parquet and the rich table)."""
    if fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        return buf.getvalue().decode()
    rows = table.to_pylist()
    if fmt == "json":
        return json.dumps(rows, default=str, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, default=str) + "\n" for r in rows)
    cells = [[_cell(v, precision) for v in r.values()] for r in rows]
    if fmt == "markdown":
        head = "| " + " | ".join(table.column_names) + " |"
        sep = "| " + " | ".join("---" for _ in table.column_names) + " |"
        return "\n".join([head, sep] + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                                        for row in cells]) + "\n"
    if fmt == "latex":
        spec = "l" * len(table.column_names)
        lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                 " & ".join(_tex(c) for c in table.column_names) + " \\\\", "\\midrule"]
        lines += [" & ".join(c if c.startswith("\\textbf") else _tex(c) for c in row) + " \\\\" for row in cells]
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines) + "\n"
    raise OlError(f"format: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _cell(value, precision: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{precision}f}" if precision is not None else f"{value:.6g}"
    return str(value)


def _tex(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("$", "\\$"), ("#", "\\#"),
                 ("_", "\\_"), ("{", "\\{"), ("}", "\\}")):
        text = text.replace(a, b)
    return text


def write(table: pa.Table, fmt: str, out: Path | None, precision: int | None = None) -> None:
    """Write to ``out`` (atomically) or stdout; parquet needs a file."""
    if fmt not in FORMATS or fmt == "table":
        raise OlError(f"format: cannot write {fmt!r} here; choose one of {', '.join(FORMATS[1:])}")
    if fmt == "parquet":
        if out is None:
            raise OlError("format: parquet is binary; pass --out FILE")
        tmp = Path(out).with_name(f".{Path(out).name}.tmp")
        pq.write_table(table, tmp)
        tmp.replace(out)
        return
    text = render_text(table, fmt, precision)
    if out is None:
        sys.stdout.write(text)
    else:
        tmp = Path(out).with_name(f".{Path(out).name}.tmp")
        tmp.write_text(text)
        tmp.replace(out)
