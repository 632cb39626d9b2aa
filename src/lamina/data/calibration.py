"""Calibration text for layer statistics: a file, a GLUE task, or the embedded corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from lamina.data.glue import GLUE_FORMATS, read_glue_texts, read_tsv_rows
from lamina.errors import LaminaError

TEXT_COLUMNS = ("text", "sentence", "sentence1", "question", "#1 String", "content", "document")
PAIR_COLUMNS = {"sentence1": "sentence2", "question": "sentence", "#1 String": "#2 String", "question1": "question2"}
DEFAULT_CALIBRATION = "bbc-news"


def _pick_columns(header: list[str], path: Path) -> list[int]:
    for name in TEXT_COLUMNS:
        if name in header:
            cols = [header.index(name)]
            pair = PAIR_COLUMNS.get(name)
            if pair in header:
                cols.append(header.index(pair))
            return cols
    raise LaminaError(f"{path}: no text column (looked for {', '.join(TEXT_COLUMNS)}) in header {header}")


def _read_file(path: Path) -> list[tuple[str, ...]]:
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        if suffix == ".csv":
            import csv

            try:
                with path.open(encoding="utf-8-sig", newline="") as f:
                    rows = list(csv.reader(f))
            except UnicodeDecodeError as exc:
                raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
            header, rows = (rows[0], rows[1:]) if rows else ([], [])
        else:
            header, rows = read_tsv_rows(path)
        cols = _pick_columns(header, path)
        return [tuple(row[c] for c in cols) for row in rows if len(row) > max(cols)]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
    if suffix in (".jsonl", ".json"):
        out = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise LaminaError(f"{path}: line {n} is not JSON") from None
            key = next((k for k in TEXT_COLUMNS if k in record), None)
            if key is None:
                raise LaminaError(f"{path}: line {n} has no text field ({', '.join(TEXT_COLUMNS)})")
            pair = PAIR_COLUMNS.get(key)
            out.append((record[key], record[pair]) if pair in record else (record[key],))
        return out
    return [(line,) for line in lines if line.strip()]


def load_calibration_texts(
    source: str | None, *, data_dir: str | None = None, samples: int = 256, seed: int = 0
) -> list[tuple[str, ...]]:
    """Up to ``samples`` examples (tuples of one or two texts), sampled with a fixed seed.

    ``source`` is a file (``.txt`` one text per line, ``.tsv``/``.csv`` with a header,
    ``.jsonl``), a GLUE task name (read from ``--data-dir``/``LAMINA_DATA_DIR``), or
    ``bbc-news`` (the embedded corpus; the default).
    """
    source = source or DEFAULT_CALIBRATION
    if samples < 1:
        raise LaminaError(f"--calib-samples must be at least 1, not {samples}")
    path = Path(source).expanduser()
    if source == "bbc-news":
        from lamina.tasks.bbc import bbc_articles

        texts = [(text,) for text, _ in bbc_articles()]
    elif source in GLUE_FORMATS and not path.exists():
        texts = read_glue_texts(source, "train", data_dir)
    elif path.is_file():
        texts = _read_file(path)
    else:
        raise LaminaError(
            f"calibration data '{source}' is neither a file nor a known task "
            f"(bbc-news, {', '.join(sorted(GLUE_FORMATS))})"
        )
    texts = [t for t in texts if any(part.strip() for part in t)]
    if not texts:
        raise LaminaError(f"calibration data '{source}' holds no text")
    if len(texts) > samples:
        texts = random.Random(seed).sample(texts, samples)
    return texts


def tokenize_batches(tokenizer, texts: list[tuple[str, ...]], *, max_length: int = 128, batch_size: int = 16):
    """Yield padded tokenizer batches (PyTorch tensors) of the calibration texts."""
    if tokenizer is None:
        raise LaminaError("this model has no tokenizer, so calibration text cannot be encoded")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        columns = list(zip(*chunk))
        second = columns[1] if len(columns) > 1 else None
        enc = tokenizer(
            list(columns[0]),
            list(second) if second else None,
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        if enc["input_ids"].shape[-1] == 0:
            raise LaminaError("the tokenizer turned the calibration text into no tokens at all")
        yield {k: v for k, v in enc.items() if isinstance(v, torch.Tensor)}
