"""Rows of a CSV / TSV (with a header) or JSONL file, as dicts; used by custom tasks and
calibration text. Errors name the file and the line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lamina.data.glue import read_tsv_rows
from lamina.errors import LaminaError

RECORD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


def read_records(path: str | Path) -> list[dict]:
    """Rows of a .csv/.tsv (header) or .jsonl file as dicts; errors name the file and line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LaminaError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise LaminaError(f"{path} is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".tsv":
            header, rows = read_tsv_rows(path)
            bad = next((n for n, r in enumerate(rows, 2) if len(r) != len(header)), None)
            if bad:
                raise LaminaError(f"{path}: line {bad} does not have {len(header)} tab-separated fields")
            return [dict(zip(header, r)) for r in rows]
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as f:
                return list(csv.DictReader(f))
        if suffix in (".jsonl", ".json"):
            out = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        raise LaminaError(f"{path}: line {n} is not valid JSON") from None
                    if not isinstance(record, dict):
                        raise LaminaError(f"{path}: line {n} is not a JSON object")
                    out.append(record)
            return out
    except UnicodeDecodeError as exc:
        raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
    raise LaminaError(f"{path}: unknown file type '{suffix}' (use .csv, .tsv or .jsonl)")
