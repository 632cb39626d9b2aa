"""The results format: one JSON per run, and ``lamina report`` over many of them.

Every run writes ``lamina_results.json`` (in its output folder, or where ``--json`` says)
with the same top-level keys::

    kind      prune | finetune | eval | ...
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

import csv
import io
import json
import platform
import shlex
import sys
import time
from pathlib import Path

from lamina.errors import LaminaError

RESULTS_FILE = "lamina_results.json"
KINDS = ("prune", "finetune", "eval", "distill", "pretrain")


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
    t0 = record.pop("_t0", None)
    if t0 is not None:
        record["wall_seconds"] = round(time.time() - t0, 2)
    return record


# ---------------------------------------------------------------- report


def find_results(paths) -> list[tuple[Path, dict]]:
    found = []
    for root in map(Path, paths):
        if not root.exists():
            raise LaminaError(f"not found: {root}")
        files = [root] if root.is_file() else sorted(root.rglob("*.json"))
        for f in files:
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(data, dict) and data.get("kind") in KINDS and "command" in data:
                found.append((f, data))
    if not found:
        raise LaminaError(f"no lamina results JSON under {', '.join(map(str, paths))}")
    return found


def _run_name(path: Path) -> str:
    return path.parent.name if path.name == RESULTS_FILE else path.stem


def report_rows(found) -> tuple[list[str], list[dict]]:
    metric_names: list[str] = []
    for _, r in found:
        metric_names += [m for m in r.get("metrics", {}) if m not in metric_names]
    rows = []
    for path, r in found:
        sizes, speeds = r.get("sizes", {}), r.get("speeds", {})
        row = {
            "run": _run_name(path),
            "kind": r["kind"],
            "model": r.get("model"),
            "task": r.get("task") or "",
            "layers": sizes.get("layers", sizes.get("layers_after", "")),
            "parameters": sizes.get("parameters", sizes.get("parameters_after", "")),
            "seed": r.get("seed") if r.get("seed") is not None else "",
        }
        for m in metric_names:
            v = r.get("metrics", {}).get(m)
            row[m] = "" if v is None else round(100 * v, 2) if abs(v) <= 1 else round(v, 4)
        row["samples/s"] = speeds.get("samples_per_second", speeds.get("after_samples_per_second", ""))
        if isinstance(row["samples/s"], float):
            row["samples/s"] = round(row["samples/s"], 1)
        row["wall_s"] = r.get("wall_seconds", "")
        rows.append(row)
    columns = ["run", "kind", "model", "task", "layers", "parameters", "seed", *metric_names, "samples/s", "wall_s"]
    return columns, rows


def to_markdown(columns, rows) -> str:
    def cell(v):
        return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000 else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(columns, rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
