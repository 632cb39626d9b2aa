"""The results record: one JSON per run (``lamina report`` reads them: lamina.reports).

Every run writes ``lamina_results.json`` (in its output folder, or where ``--json`` says)
with the same top-level keys::

    kind      the workflow that wrote it (prune | finetune | distill | eval | ...)
    command   the command line that made it
    model     the model it started from;  task  the task (or null)
    config    the settings of the run
    metrics   task metrics ({} when none were measured)
    sizes     parameters, layers, bytes on disk
    speeds    throughput figures from lamina.eval.timing
    versions  lamina, torch, transformers, onnxruntime, python
    seed      the seed (or null);  wall_seconds  how long it took
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from pathlib import Path

from lamina.registry import Registry

RESULTS_FILE = "lamina_results.json"


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["lamina", *sys.argv[1:]])


def versions() -> dict:
    import torch
    import transformers

    from lamina import __version__

    from importlib.metadata import PackageNotFoundError, version

    try:  # int8 scores move with the ONNX Runtime release (quickstart int8: 95.69 once, 95.45 on 1.32.0)
        ort = version("onnxruntime")
    except PackageNotFoundError:
        ort = None
    return {
        "lamina": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": ort,
        "python": platform.python_version(),
    }


def new_record(kind: str, *, model: str, task: str | None = None, config: dict | None = None, seed=None) -> dict:
    return {
        "kind": kind,
        "command": command_line(),
        "model": model,
        "task": task,
        "config": config or {},
        "metrics": {},
        "sizes": {},
        "speeds": {},
        "versions": versions(),
        "seed": seed,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "_t0": time.time(),
    }


def finish_record(record: dict) -> dict:
    """Stamp the wall time and the lineage (the runs the model came from, read now, while their
    folders exist: a report made after they are deleted still knows which pruning a model had)."""
    t0 = record.pop("_t0", None)
    if t0 is not None:
        record["wall_seconds"] = round(time.time() - t0, 2)
    record["lineage"] = lineage(record)
    return record


# ---------------------------------------------------------------- record kinds


class RecordKind:
    """What lamina makes of one kind of record besides its JSON: its model card, the extra fields
    of its ``lamina report`` row and its place in a lineage. Every command
    (:class:`lamina.workflows.Workflow`) is one, registered under its name in :data:`RECORD_KINDS`,
    so the shared code (cards, reports, lineage) asks the record's kind, never compares kinds.
    These defaults fit a record with no section of its own (and a kind no longer registered)."""

    def card(self, folder: Path, record: dict, **context) -> list[str] | Path | None:
        """The model card of ``record`` written to ``folder`` (README.md): its lines (which
        :func:`lamina.models.card.write_card` writes), the path of a card it wrote itself, or
        None for no card. ``context`` is what the run knows besides the record (``name``: the
        final folder name, ``task``, ``auto_class`` ...)."""
        return None

    def report_row(self, record: dict) -> dict:
        """Fields of this record's report row (:class:`lamina.reports.collect.Row`) that differ
        from what every record gives."""
        return {}

    def lineage_parent(self, record: dict) -> str | None:
        """The model (folder) this run started from, followed to build the lineage."""
        return record.get("model")

    def lineage_summary(self, record: dict) -> dict:
        """What this run adds to its entry in a lineage besides kind, path and layers (a
        pruning: strategy, layers before, kept layers, speed-up)."""
        return {}


# every command registers here under its name (lamina.workflows.WORKFLOWS mirrors into it)
RECORD_KINDS = Registry("record kind", package="lamina.workflows")


def record_kind(record_or_kind: dict | str | None) -> RecordKind:
    """The hooks of a record's kind (a plain :class:`RecordKind` for an unknown kind)."""
    kind = record_or_kind.get("kind") if isinstance(record_or_kind, dict) else record_or_kind
    entry = RECORD_KINDS.entries.get(kind) if isinstance(kind, str) else None
    return entry() if entry is not None else RecordKind()


# ---------------------------------------------------------------- lineage


def _parent(record: dict) -> str | None:
    return record_kind(record).lineage_parent(record)


def _summary(record: dict, path: str | None) -> dict:
    out = {"kind": record.get("kind"), "path": path, "layers": (record.get("sizes") or {}).get("layers")}
    out.update(record_kind(record).lineage_summary(record))
    return out


def lineage(record: dict, *, max_depth: int = 12) -> list[dict]:
    """The record itself, then the runs its model came from (followed through output folders
    that hold a lamina_results.json), nearest first."""
    chain = [_summary(record, (record.get("recipe") or {}).get("output"))]
    seen: set[str] = set()
    current = record
    for _ in range(max_depth):
        parent = _parent(current)
        if not parent or parent in seen:
            break
        seen.add(parent)
        path = Path(parent) / RESULTS_FILE
        try:  # (a model that is no folder, e.g. "random init from {config JSON}", may not even be a valid path)
            if not path.is_file():
                break
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            break
        chain.append(_summary(current, parent))
        if len(current.get("lineage") or []) > 1:  # the parent stored its own ancestry when it ran
            chain.extend(current["lineage"][1:])
            break
    return chain
