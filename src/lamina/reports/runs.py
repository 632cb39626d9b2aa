"""The per-run table of a report: every results record found under the given paths, one row each."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lamina.errors import LaminaError
from lamina.eval.metrics import shown
from lamina.results import RESULTS_FILE, Record, as_record, is_record


def find_results(paths, kinds=None) -> list[tuple[Path, Record]]:
    """Every results record in the files and folders (searched recursively) of ``paths``, typed
    (:func:`lamina.results.as_record`; other JSON is passed over); with ``kinds``
    (``lamina.workflows.record_kinds()``), only records of those kinds."""
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
            if is_record(data) and (kinds is None or data["kind"] in kinds):
                found.append((f, as_record(data, source=f)))
    if not found:
        raise LaminaError(f"no lamina results JSON under {', '.join(map(str, paths))}")
    return found


def _run_name(path: Path) -> str:
    return path.parent.name if path.name == RESULTS_FILE else path.stem


def report_rows(found) -> tuple[list[str], list[dict]]:
    found = [(path, r.data()) for path, r in found]  # the JSON as read: its nulls are shown as such
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
            "layers": sizes.get("layers", ""),
            "parameters": sizes.get("parameters", ""),
            "seed": r.get("seed") if r.get("seed") is not None else "",
        }
        for m in metric_names:
            v = r.get("metrics", {}).get(m)
            row[m] = "" if v is None else shown(m, v)
        row["samples/s"] = speeds.get("samples_per_second", "")
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
