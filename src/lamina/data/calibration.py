"""Calibration text for layer statistics: a file, a GLUE task, or the embedded corpus."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from lamina.data.encode import ensure_pad_token
from lamina.data.glue import GLUE_FORMATS, read_glue_texts
from lamina.data.records import RECORD_SUFFIXES, read_records
from lamina.errors import LaminaError

TEXT_COLUMNS = ("text", "sentence", "sentence1", "question", "#1 String", "content", "document")
PAIR_COLUMNS = {"sentence1": "sentence2", "question": "sentence", "#1 String": "#2 String", "question1": "question2"}
DEFAULT_CALIBRATION = "bbc-news"


def _texts_of(record: dict, path: Path, n: int) -> tuple[str, ...] | None:
    key = next((k for k in TEXT_COLUMNS if k in record), None)
    if key is None:
        raise LaminaError(f"{path}: example {n} has no text column (looked for {', '.join(TEXT_COLUMNS)})")
    if record[key] is None:  # a short CSV row
        return None
    pair = PAIR_COLUMNS.get(key)
    if record.get(pair) is not None:
        return (str(record[key]), str(record[pair]))
    return (str(record[key]),)


def _read_file(path: Path) -> list[tuple[str, ...]]:
    if path.suffix.lower() in RECORD_SUFFIXES:
        texts = (_texts_of(r, path, n) for n, r in enumerate(read_records(path), 1))
        return [t for t in texts if t is not None]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
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
        from lamina.data.bbc import bbc_articles

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
    ensure_pad_token(tokenizer)
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


def calibration_batches(tokenizer, texts, *, max_length: int, batch_size: int = 16) -> list[dict]:
    """``texts`` (tuples of one or two texts, or strings) tokenized into padded batches for forward passes
    (a tokenizer without a pad token pads with its end-of-sequence token)."""
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    out = []
    for i in range(0, len(texts), batch_size):
        pairs = [t if isinstance(t, tuple) else (t,) for t in texts[i : i + batch_size]]
        firsts = [p[0] for p in pairs]
        seconds = [p[1] for p in pairs] if all(len(p) > 1 for p in pairs) else None
        enc = tokenizer(firsts, seconds, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        out.append({k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
    return out
