"""``lamina report`` on a recipe's output folder: its gathered results and its report step's settings."""

from __future__ import annotations

import json
from pathlib import Path

from lamina.reports.spec import ReportSpec


def report_inputs(paths) -> tuple[list, ReportSpec, dict]:
    """(paths to read, spec, meta). A recipe output folder (it holds recipe.json) is read
    through its results/ folder (not its run folders, which hold the same records), with the
    settings of the recipe's report step."""
    paths = list(paths)
    if len(paths) != 1:
        return paths, ReportSpec(), {}
    root = Path(paths[0])
    manifest = root / "recipe.json"
    if not (manifest.is_file() and (root / "results").is_dir()):
        return paths, ReportSpec(), {}
    data = json.loads(manifest.read_text(encoding="utf-8"))
    recipe = data.get("recipe") or {}
    step = next((s for s in recipe.get("steps", []) if s.get("kind") == "report"), None)
    # (a folder made before a rename stored the old names: read with today's)
    args = ReportSpec.upgrade_renamed((step or {}).get("args") or {})
    args = {k: v for k, v in args.items() if k in ReportSpec.model_fields}
    form = data.get("form")
    meta = {
        "name": recipe.get("name"),
        "description": recipe.get("description"),
        "form": form,
        "form_description": ((recipe.get("forms") or {}).get(form) or {}).get("description") if form else None,
        "command": data.get("command"),
    }  # the `lamina run` that made the folder
    return [str(root / "results")], ReportSpec(**args), meta
