"""Reading back what the W&B client wrote offline, as wandb 0.31 ships no reader for its .wandb files."""

from __future__ import annotations

from pathlib import Path


def read_wandb_file(path):
    """Records of a .wandb file: a 7-byte header, then LevelDB-log framing in 32 KiB blocks."""
    import struct
    import zlib  # noqa: F401  (the chunk CRC is crc32c in W&B; we read, we do not verify)

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, records, partial = 7, [], b""
    block = 32 * 1024
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # too little room for a chunk header: the block is padded
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        pos += 7
        chunk = data[pos:pos + length]
        pos += length
        if kind == 1:  # FULL
            records.append(chunk)
        elif kind == 2:  # FIRST
            partial = chunk
        elif kind == 3:  # MIDDLE
            partial += chunk
        elif kind == 4:  # LAST
            records.append(partial + chunk)
    return [pb.Record.FromString(r) for r in records]


def summary_of(root: Path, run_id: str) -> dict:
    """The summary a W&B run ended with: every summary update of its offline runs, in order."""
    import json

    out: dict = {}
    for path in sorted(Path(root).rglob(f"run-{run_id}.wandb")):
        for rec in read_wandb_file(path):
            if rec.WhichOneof("record_type") == "summary":
                out.update({i.key: json.loads(i.value_json) for i in rec.summary.update})
    return out


def history_of(root: Path, run_id: str) -> list[dict]:
    """Every history row a W&B run logged offline, as {key: value} with its "_step"."""
    import json

    rows = []
    for path in sorted(Path(root).rglob(f"run-{run_id}.wandb")):
        for rec in read_wandb_file(path):
            if rec.WhichOneof("record_type") == "history":
                row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item}
                rows.append(row)
    return rows


def offline_env(tmp_path: Path) -> dict:
    """The environment of a process that runs real wandb offline, every folder of its in ``tmp_path``."""
    import os

    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = str(tmp_path / name.lower())
        Path(env[name]).mkdir(exist_ok=True)
    return env
