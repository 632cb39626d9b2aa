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

import platform
import shlex
import sys
import time

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
    from lamina.reports.collect import lineage

    t0 = record.pop("_t0", None)
    if t0 is not None:
        record["wall_seconds"] = round(time.time() - t0, 2)
    record["lineage"] = lineage(record)
    return record
