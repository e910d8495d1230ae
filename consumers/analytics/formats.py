"""Writing an Arrow table, or a stream of batches, as text or files: csv, json, jsonl, parquet, markdown, latex."""

from __future__ import annotations

import io
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ol.consumers.analytics.choices import FORMATS
from ol.errors import UsageError
from ol.terminal import FORMULA, formula_safe, printable


def write_csv_batch(batch: pa.Table | pa.RecordBatch, sink, header: bool, delimiter: str = ",") -> None:
    """RFC 4180 CSV without quotes unless a value needs them, so `cut`, `xargs` and shell loops read run ids
    and names as they are. Arrow's own writer, kept for its speed, quotes every string of a batch or none:
    none when no string in the batch holds a comma, quote or line break, else all of them (still valid CSV).
    Text a spreadsheet would run as a formula gets a leading apostrophe (FORMULA)."""
    batch = _formula_safe(_flat(batch))
    quoting = "none"
    for column, field in zip(batch.columns, batch.schema, strict=True):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) or column.null_count == len(column):
            continue
        text = pc.cast(column, kind) if kind is not field.type else column
        if pc.any(pc.match_substring_regex(text, f'[{delimiter}"\\r\\n]')).as_py():
            quoting = "needed"
            break
    if header:
        sink.write((delimiter.join(_csv_cell(formula_safe(name), delimiter) for name in batch.schema.names)
                    + "\n").encode())
    pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False, quoting_style=quoting, delimiter=delimiter))


def _formula_safe(batch: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    columns = []
    for column, field in zip(batch.columns, batch.schema, strict=True):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and column.null_count < len(column):
            text = pc.cast(column, kind) if kind is not field.type else column
            risky = pc.match_substring_regex(text, FORMULA)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=batch.schema.names) if isinstance(batch, pa.Table) else \
        pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _flat(batch: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Columns CSV cannot hold as they are — lists, structs, maps, blobs — as one JSON text per cell (blobs
    as base64), so every column any query returns can be written."""
    nested = [i for i, f in enumerate(batch.schema) if _needs_text(f.type)]
    if not nested:
        return batch
    columns = list(batch.columns)
    for i in nested:
        columns[i] = pa.array([None if v is None else _json_text(v) for v in columns[i].to_pylist()], pa.string())
    return pa.Table.from_arrays(columns, names=batch.schema.names)


def _needs_text(kind: pa.DataType) -> bool:
    return (pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind))


def _json_text(value) -> str:
    import base64
    import json

    def plain(v):
        if isinstance(v, bytes):
            return base64.b64encode(v).decode()
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)  # JSON has no NaN or inf: their names, as the table format shows them
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return json.dumps(plain(value), separators=(",", ":"))


def _csv_cell(text: str, delimiter: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in f'{delimiter}"\r\n') else text


def render_text(table: pa.Table, fmt: str, precision: int | None = None, caption: str | None = None) -> str:
    """The table as text in a text format (everything but parquet and the rich table)."""
    if fmt in ("csv", "tsv"):
        buf = io.BytesIO()
        write_csv_batch(table, buf, header=True, delimiter="," if fmt == "csv" else "\t")
        return buf.getvalue().decode()
    rows = table.to_pylist()
    if fmt == "json":
        return json.dumps(rows, default=str, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, default=str) + "\n" for r in rows)
    cells = [[cell(v, precision) for v in r.values()] for r in rows]
    if fmt == "markdown":
        head = "| " + " | ".join(table.column_names) + " |"
        sep = "| " + " | ".join("---" for _ in table.column_names) + " |"
        text = "\n".join([head, sep] + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                                        for row in cells]) + "\n"
        return text + (f"\n{caption}\n" if caption else "")
    if fmt == "latex":
        # numbers (and "mean [low, high]") right-aligned, text left; cells that are already TeX stay as they are
        spec = "".join("r" if rows and all(_numeric(c) for c in col) else "l" for col in zip(*cells, strict=True)) \
            if cells else "l" * len(table.column_names)
        lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                 " & ".join(_tex(c) for c in table.column_names) + " \\\\", "\\midrule"]
        lines += [" & ".join(_latex_cell(c) for c in row) + " \\\\" for row in cells]
        lines += ["\\bottomrule", "\\end{tabular}"]
        if caption is not None:
            lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{_tex(caption)}}}", *lines, "\\end{table}"]
        return "\n".join(lines) + "\n"
    raise UsageError(f"format: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def cell(value, precision: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{precision}f}" if precision is not None else f"{value:.6g}"
    return str(value)


BOLD = "\\textbf{"


def _latex_cell(text: str) -> str:
    """A cell's text escaped for TeX, except the markup the table itself put there (bold)."""
    bold = text.startswith(BOLD) and text.endswith("}")
    core = _tex(text[len(BOLD):-1] if bold else text)
    return f"{BOLD}{core}}}" if bold else core


def _numeric(text: str) -> bool:
    """A number, a mean with its interval ("0.95 [0.94, 0.96]"), or either in bold (empty cells do not decide)."""
    core = text.removeprefix(BOLD).removesuffix("}")
    try:
        [float(p) for p in core.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    except ValueError:
        return False
    return True


def _tex(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("$", "\\$"), ("#", "\\#"),
                 ("_", "\\_"), ("{", "\\{"), ("}", "\\}")):
        text = text.replace(a, b)
    return text


def write(table: pa.Table, fmt: str, out: Path | None, precision: int | None = None,
          caption: str | None = None) -> None:
    """Write to ``out`` (atomically) or stdout; parquet needs a file."""
    write_stream(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), fmt, out, precision, caption)


STREAMED = ("csv", "tsv", "jsonl", "json", "parquet")  # written batch by batch; the others need the whole table


def write_stream(reader: pa.RecordBatchReader, fmt: str, out: Path | None, precision: int | None = None,
                 caption: str | None = None) -> int:
    """Write batches as they come (csv, json, jsonl, parquet never hold the whole result); returns rows."""
    if fmt not in FORMATS or fmt == "table":
        raise UsageError(f"format: cannot write {fmt!r} here; choose one of {', '.join(FORMATS[1:])}")
    if fmt == "parquet" and out is None:
        raise UsageError("format: parquet is binary; pass --out FILE")
    with _sink(out) as sink:
        if fmt not in STREAMED:
            table = reader.read_all()
            sink.write(render_text(table, fmt, precision, caption).encode())
            return table.num_rows
        return _stream(reader, fmt, sink)


def _stream(reader: pa.RecordBatchReader, fmt: str, sink) -> int:
    rows = 0
    if fmt == "parquet":
        with pq.ParquetWriter(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows
    if fmt in ("csv", "tsv"):
        header, delimiter = True, "," if fmt == "csv" else "\t"
        for batch in reader:
            write_csv_batch(batch, sink, header, delimiter)
            header, rows = False, rows + batch.num_rows
        if header:  # no rows at all: the header still says what the columns are
            write_csv_batch(reader.schema.empty_table(), sink, True, delimiter)
        return rows
    opening, separator, closing = ("[\n", ",\n", "\n]\n") if fmt == "json" else ("", "\n", "\n")
    sink.write(opening.encode())
    for batch in reader:
        lines = [json.dumps(r, default=str) for r in batch.to_pylist()]
        if lines:
            sink.write(((separator if rows else "") + separator.join(lines)).encode())
        rows += len(lines)
    sink.write((closing if rows or fmt == "json" else "").encode())
    return rows


class _Shown:
    """stdout: the store's text is shown, its control characters never obeyed, on a terminal or through a
    pipe (which often ends on one); a file named with --out gets the bytes as they are."""

    def __init__(self, raw):
        import codecs

        self._raw, self._decode = raw, codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: bytes) -> int:
        self._raw.write(printable(self._decode.decode(bytes(data))).encode())
        return len(data)

    def flush(self) -> None:
        self._raw.flush()

    closed = False  # what pyarrow's writers ask of a Python file before writing to it

    def writable(self) -> bool:
        return True


@contextmanager
def _sink(out: Path | None) -> Iterator:
    """stdout, or a temporary file beside ``out`` that replaces it only when everything is written."""
    if out is None:
        yield _Shown(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"format: --out {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise UsageError(f"format: the directory {out.parent} does not exist; create it or choose another --out")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, out)
    except OSError as e:
        raise UsageError(f"format: cannot write {out}: {e.strerror}; choose another --out") from None
    finally:
        tmp.unlink(missing_ok=True)
