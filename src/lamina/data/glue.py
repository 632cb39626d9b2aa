"""Readers for GLUE-format TSV folders (``SST-2/train.tsv`` ...).

The files are read as plain tab-split lines: GLUE text contains ``"`` characters, and
CSV quoting would merge rows. Every line must have the header's number of fields (CoLA,
which has no header: the first line's); a ragged line is refused with its line number.
MRPC starts with a UTF-8 BOM (read as ``utf-8-sig``). ``--data-dir`` may point at the
folder holding ``SST-2/`` or at its parent holding ``glue/SST-2/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lamina.data.paths import data_dir as resolve_data_dir
from lamina.errors import LaminaError


@dataclass(frozen=True)
class GlueFormat:
    folder: str
    text_columns: tuple[str | int, ...]
    label_column: str | int | None
    header: bool = True
    dev_file: str = "dev.tsv"


GLUE_FORMATS: dict[str, GlueFormat] = {
    "cola": GlueFormat("CoLA", (3,), 1, header=False),
    "sst2": GlueFormat("SST-2", ("sentence",), "label"),
    "mrpc": GlueFormat("MRPC", ("#1 String", "#2 String"), "Quality"),
    "qqp": GlueFormat("QQP", ("question1", "question2"), "is_duplicate"),
    "stsb": GlueFormat("STS-B", ("sentence1", "sentence2"), "score"),
    "mnli": GlueFormat("MNLI", ("sentence1", "sentence2"), "gold_label", dev_file="dev_matched.tsv"),
    "qnli": GlueFormat("QNLI", ("question", "sentence"), "label"),
    "rte": GlueFormat("RTE", ("sentence1", "sentence2"), "label"),
    "wnli": GlueFormat("WNLI", ("sentence1", "sentence2"), "label"),
}


def glue_folder(task: str, data_dir: str | Path | None = None) -> Path:
    fmt = GLUE_FORMATS[task]
    root = resolve_data_dir(data_dir)
    for candidate in (root / fmt.folder, root / "glue" / fmt.folder):
        if candidate.is_dir():
            return candidate
    raise LaminaError(f"no {fmt.folder}/ folder for task '{task}' under {root} (nor under {root / 'glue'})")


def read_tsv_rows(path: Path, *, header: bool = True) -> tuple[list[str] | None, list[list[str]]]:
    """Plain tab-split rows (no CSV quoting), header separated when there is one.

    Every row must have as many fields as the header (or, without a header, as the first
    line): a row with a tab too many or too few is refused with its line number, never
    read shifted. Empty lines at the end of the file are ignored; one in the middle is an error.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LaminaError(f"file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise LaminaError(f"{path} is not valid UTF-8 (byte {exc.start})") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines]
    if header and not rows:
        raise LaminaError(f"{path} is empty")
    if rows:
        expected = len(rows[0])
        source = "in the header" if header else "on line 1"
        for n, (line, row) in enumerate(zip(lines, rows), start=1):
            if len(row) != expected:
                found = "is empty" if line == "" else f"has {len(row)} tab-separated fields"
                raise LaminaError(f"{path}: line {n} {found}, expected {expected} (as {source})")
    if not header:
        return None, rows
    return rows[0], rows[1:]


def glue_split_path(task: str, split: str, data_dir: str | Path | None = None) -> Path:
    if task not in GLUE_FORMATS:
        raise LaminaError(f"unknown GLUE task '{task}'; known: {', '.join(sorted(GLUE_FORMATS))}")
    fmt = GLUE_FORMATS[task]
    name = {"dev": fmt.dev_file, "dev_mismatched": "dev_mismatched.tsv"}.get(split, f"{split}.tsv")
    return glue_folder(task, data_dir) / name


def read_glue_examples(
    task: str, split: str = "train", data_dir: str | Path | None = None, *, with_labels: bool = True
) -> tuple[Path, list[tuple[tuple[str, ...], str | None, int]]]:
    """``(path, [(texts, raw_label, line_number), ...])`` for a GLUE split; one or two texts each."""
    fmt = GLUE_FORMATS[task] if task in GLUE_FORMATS else None
    path = glue_split_path(task, split, data_dir)
    header, rows = read_tsv_rows(path, header=fmt.header)
    if not rows:
        raise LaminaError(f"{path} holds no examples")

    def column(col) -> int:
        if isinstance(col, int):
            return col
        if header is not None and col in header:
            return header.index(col)
        raise LaminaError(f"{path}: no column '{col}' in header {header}")

    idx = [column(c) for c in fmt.text_columns]
    label_idx = column(fmt.label_column) if with_labels and fmt.label_column is not None else None
    width = max(idx + ([label_idx] if label_idx is not None else [])) + 1
    first = 2 if header is not None else 1
    out = []
    for n, row in enumerate(rows, start=first):
        if len(row) < width:
            raise LaminaError(f"{path}: line {n} has fewer than {width} tab-separated fields")
        label = row[label_idx] if label_idx is not None else None
        out.append((tuple(row[i] for i in idx), label, n))
    return path, out


def read_glue_texts(task: str, split: str = "train", data_dir: str | Path | None = None) -> list[tuple[str, ...]]:
    """The text fields (one or two per example) of a GLUE split."""
    return [texts for texts, _, _ in read_glue_examples(task, split, data_dir, with_labels=False)[1]]
