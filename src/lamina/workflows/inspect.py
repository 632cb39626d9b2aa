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
        from lamina.io import write_json
        from lamina.models.loading import load_model
        from lamina.results import command_line, versions

        model, tokenizer, _ = load_model(cfg.model)  # (a missing folder is refused before torch is imported)
        from lamina.analysis import layer_table

        stats, cal_info = cfg.calibration(model, tokenizer, token=None if cfg.token == "auto" else cfg.token)
        table = layer_table(model, stats)
        table.update({"kind": "inspect", "command": command_line(), "model": cfg.model,
                      "architecture": type(model).__name__, "calibration": cal_info, "versions": versions()})
        if cfg.json_path:
            write_json(cfg.json_path, table)
        return table

    def show(self, record, cfg, echo) -> None:
        from lamina.display import console, table

        t = table(f"{record['model']} ({record['architecture']}): per-layer view",
                  ("layer", "parameters", "contribution cos(in,out)", "angular dist(in,out)"))
        for row in record["rows"]:
            t.add_row(
                str(row["layer"]),
                f"{row['parameters']:,}",
                f"{row.get('contribution_cosine', float('nan')):.4f}",
                f"{row.get('angular_distance', float('nan')):.4f}",
            )
        tot = record["totals"]
        t.add_section()
        t.add_row("total", f"{tot['parameters']:,}", "", "")
        t.add_row("in layers", f"{tot['layer_parameters']:,}", "", "")
        console.print(t)
        cal = record.get("calibration") or {}
        console.print(
            f"calibration: {cal.get('source')} · {cal.get('samples')} examples · {cal.get('tokens'):,} tokens "
            f"({'last token' if cal.get('token') == 'last' else 'all tokens'})"
        )
        blocks = ", ".join(
            f"{b['size']}→layers {b['start']}..{b['start'] + b['size'] - 1} ({b['angular_distance']:.3f})"
            for b in record.get("best_blocks", [])
        )
        if blocks:
            console.print(f"most redundant contiguous block per size (angular): {blocks}")
        console.print("high cosine / low angular distance = the layer changes its input little (a drop candidate)")
        if cfg.json_path:
            echo(f"wrote {cfg.json_path}")
