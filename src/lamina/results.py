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
    versions  lamina, torch, transformers, python
    seed      the seed (or null);  wall_seconds  how long it took
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from pathlib import Path

RESULTS_FILE = "lamina_results.json"


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["lamina", *sys.argv[1:]])


def versions() -> dict:
    import torch
    import transformers

    from lamina import __version__

    return {
        "lamina": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
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


# ---------------------------------------------------------------- lineage


def _parent(record: dict) -> str | None:
    cfg = record.get("config") or {}
    if record.get("kind") == "distill":
        if cfg.get("student_from_teacher") and cfg.get("teacher"):
            return cfg["teacher"][0]
        return cfg.get("student")
    return record.get("model")


def _summary(record: dict, path: str | None) -> dict:
    cfg, sizes = record.get("config") or {}, record.get("sizes") or {}
    out = {"kind": record.get("kind"), "path": path, "layers": sizes.get("layers")}
    if record.get("kind") == "prune":
        out.update(strategy=cfg.get("strategy"), layers_before=sizes.get("layers_before"),
                   kept_layers=(record.get("prune") or {}).get("kept_layers"),
                   speedup=(record.get("speeds") or {}).get("speedup"),
                   speedup_range=(record.get("speeds") or {}).get("speedup_range"))
    elif record.get("kind") == "distill":
        teachers = (record.get("distill") or {}).get("teachers") or [{}]
        out.update(strategy=cfg.get("student_from_teacher"), layers_before=teachers[0].get("layers"))
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
