"""Rows of a CSV / TSV (with a header) or JSONL file, as dicts; used by custom tasks and
calibration text. Errors name the file and the line.

A CSV/TSV row must have exactly the header's number of fields: a ragged row (an unquoted
comma or a tab too many, a field missing) is refused with its line number rather than read
shifted, where a stray field could otherwise become a new label. Blank lines are skipped.
"""

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
            header, rows = read_tsv_rows(path)  # refuses a row without the header's field count
            return [dict(zip(header, r)) for r in rows]
        if suffix == ".csv":
            return _read_csv(path)
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


def _read_csv(path: Path) -> list[dict]:
    """CSV rows as dicts; every row must have the header's number of fields."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header, out, line = None, [], 1
        try:
            for row in reader:
                start, line = line, reader.line_num + 1  # a quoted field may span lines
                if not row:
                    continue  # a blank line
                if header is None:
                    header = row
                    continue
                if len(row) != len(header):
                    raise LaminaError(
                        f"{path}: line {start} has {len(row)} comma-separated fields, expected {len(header)} "
                        "(as in the header); quote a field that holds a comma"
                    )
                out.append(dict(zip(header, row)))
        except csv.Error as exc:
            raise LaminaError(f"{path}: line {reader.line_num}: {exc}") from None
    return out
