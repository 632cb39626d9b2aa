"""``lamina inspect``: one row per layer (parameters, contribution, angular distance) on calibration text."""

from __future__ import annotations

from typing import Literal, Optional

from lamina.config import setting
from lamina.workflows import RunContext, Workflow, register_workflow
from lamina.workflows.prune import CalibrationSettings, ModelSettings


class InspectConfig(ModelSettings, CalibrationSettings):
    json_path: Optional[str] = setting(None, "Also write the table as JSON here.", flag="--json")
    token: Literal["auto", "last", "all"] = setting(
        "auto", "Tokens the statistics average over: last, all (ShortGPT's Block Influence), auto (last for "
        "decoders, all for encoders).")


@register_workflow("inspect")
class Inspect(Workflow):
    """One row per layer: parameters, contribution (cosine in/out) and angular distance, plus totals."""

    Config = InspectConfig
    arguments = ("model",)
    in_reports = False  # a table of layers, not a model's scores
    in_recipes = False  # it writes no run folder

    def run(self, cfg: InspectConfig, ctx: RunContext) -> dict:
        from lamina.analysis import layer_table
        from lamina.io import write_json
        from lamina.models.loading import load_model
        from lamina.results import command_line, versions

        model, tokenizer, _ = load_model(cfg.model)
        stats, cal_info = cfg.calibration(model, tokenizer, token=None if cfg.token == "auto" else cfg.token)
        table = layer_table(model, stats)
        table.update({"kind": "inspect", "command": command_line(), "model": cfg.model,
                      "architecture": type(model).__name__, "calibration": cal_info, "versions": versions()})
        if cfg.json_path:
            write_json(cfg.json_path, table)
        return table

    def show(self, record, cfg, echo) -> None:
        from lamina.display import print_inspect_table

        print_inspect_table(record)
        if cfg.json_path:
            echo(f"wrote {cfg.json_path}")
