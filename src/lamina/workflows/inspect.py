"""``lamina inspect``: one row per layer (parameters, contribution, angular distance) on calibration text;
with ``--width``, what an importance criterion says of each layer's FFN neurons, heads and hidden channels."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from lamina.config import setting
from lamina.workflows import RunContext, Workflow, register_workflow
from lamina.workflows.prune import CalibrationSettings, ModelSettings


class InspectConfig(ModelSettings, CalibrationSettings):
    json_path: str | None = setting(None, "Also write the table as JSON here.", flag="--json")
    token: Literal["auto", "last", "all"] = setting(
        "auto",
        "Tokens the statistics average over: last, all (ShortGPT's Block Influence), auto (last for "
        "decoders, all for encoders).",
    )
    width: bool = setting(
        False,
        "Also rank each layer's FFN neurons, heads and hidden channels by --importance and "
        "summarise them (which widths could shrink).",
    )
    importance: str = setting("activation", "With --width: the criterion (see `lamina importance`).")

    @field_validator("importance")
    @classmethod
    def _known_importance(cls, value):
        from lamina.importance import IMPORTANCE

        IMPORTANCE.get(value)  # an unknown criterion fails here
        return value


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
        table.update(
            {
                "kind": "inspect",
                "command": command_line(),
                "model": cfg.model,
                "architecture": type(model).__name__,
                "calibration": cal_info,
                "versions": versions(),
            }
        )
        if cfg.width:
            table["width"] = _width(cfg, model, tokenizer)
        if cfg.json_path:
            write_json(cfg.json_path, table)
        return table

    def show(self, record, cfg, echo) -> None:
        from lamina.display import console, table

        t = table(
            f"{record['model']} ({record['architecture']}): per-layer view",
            ("layer", "parameters", "contribution cos(in,out)", "angular dist(in,out)"),
        )
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
        if record.get("width"):
            _show_width(record["width"])
        if cfg.json_path:
            echo(f"wrote {cfg.json_path}")


def _width(cfg: InspectConfig, model, tokenizer) -> dict:
    """The importance summary of ``model``'s widths (see :mod:`lamina.importance.summary`)."""
    import time

    from lamina.importance import get_importance
    from lamina.importance.summary import width_summary
    from lamina.models.width import check_width_request

    check_width_request(model.config)  # an architecture with no width rules: one error line
    criterion = get_importance(cfg.importance)
    batches = cfg.calibration_batches(tokenizer, cfg.model)[0] if criterion.needs_calibration else []
    start = time.perf_counter()
    scores = criterion.scores(model, batches)
    return {"importance": cfg.importance, "seconds": round(time.perf_counter() - start, 3), **width_summary(scores)}


def _show_width(width: dict) -> None:
    from lamina.display import console, table

    t = table(
        f"widths ranked by {width['importance']} importance ({width['seconds']:.1f} s)",
        ("layer", "FFN", "FFN: best half holds", "heads", "weakest head (vs strongest)", "median head"),
    )
    for row in width["rows"]:
        rel = row["weakest_head_relative"]
        weakest = "–" if rel is None or rel != rel else f"{row['weakest_head']} ({rel:.2f})"
        t.add_row(
            str(row["layer"]),
            str(row["ffn"]),
            f"{row['ffn_top_half']:.0%}",
            str(row["heads"]),
            weakest,
            _median(row["head_relative"]),
        )
    console.print(t)
    console.print("(every head's score, relative to its layer's strongest: --json)")
    hidden = width["hidden"]
    console.print(
        f"hidden: {hidden['channels']} channels; the best half holds {hidden['hidden_top_half']:.0%} of the "
        "importance. 50% = every unit matters alike; near 100% = half could go at little cost "
        "(`lamina prune --ffn/--heads/--hidden`)"
    )


def _median(values: list[float]) -> str:
    import statistics

    values = [v for v in values if v == v]
    return f"{statistics.median(values):.2f}" if values else "–"
