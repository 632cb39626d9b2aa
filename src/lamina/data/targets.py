"""The files of a teacher-targets folder (an n-best store entry or a ``lamina generate-targets``
output): ``meta.json`` (written last: its presence marks a complete entry) and ``targets.jsonl``
(one line per pair: ``source``, ``reference``, ``nbest``). Read here, below both the tasks
(``--beam-targets``) and distillation (:mod:`lamina.distillation.nbest` writes them)."""

from __future__ import annotations

import json
from pathlib import Path

from lamina.errors import LaminaError

TARGETS_FILE = "targets.jsonl"
META_FILE = "meta.json"


def read_targets(folder: str | Path) -> tuple[list[dict], dict]:
    """The rows and meta of an n-best entry (or of a ``generate-targets`` output folder)."""
    folder = Path(folder).expanduser()
    if not (folder / META_FILE).is_file() or not (folder / TARGETS_FILE).is_file():
        raise LaminaError(
            f"{folder} holds no complete teacher targets ({META_FILE} and {TARGETS_FILE}): "
            "run `lamina generate-targets` first"
        )
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (folder / TARGETS_FILE).read_text(encoding="utf-8").splitlines() if line]
    if len(rows) != meta.get("pairs"):
        raise LaminaError(f"{folder}/{TARGETS_FILE} has {len(rows)} rows where {META_FILE} says {meta.get('pairs')}")
    return rows, meta
