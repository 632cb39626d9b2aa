"""``lamina data``: split sizes, label distribution, token-length percentiles and examples of a task."""

from __future__ import annotations

from lamina.config import setting
from lamina.training.settings import DEFAULT_MODEL, TaskSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class DataConfig(TaskSettings):
    model: str = setting(DEFAULT_MODEL, "Tokenizer used for the length percentiles.")


@register_workflow("data")
class Data(Workflow):
    """Split sizes, label distribution, token-length percentiles and three examples of a task."""

    Config = DataConfig
    arguments = ("task",)
    in_reports = False
    in_recipes = False

    def run(self, cfg: DataConfig, ctx: RunContext) -> dict:
        from lamina.tasks.summary import summarize_task

        return summarize_task(cfg.task, data_dir=cfg.data_dir, tokenizer_model=cfg.model, task_options=cfg.task_options)

    def show(self, record, cfg, echo) -> None:
        from lamina.display import console, escape, table

        console.print(f"[bold]{record['task']}[/bold]: {record['description']}  (source: {record['source']})")
        t = table(
            None,
            ("split", "examples", "labels", "tokens p50", "p90", "p95", "p99", "max", "truncated@128"),
            labels="left",
        )
        for name, s in record["splits"].items():
            lens = s["token_lengths"]
            labels = ", ".join(f"{k} {v}" for k, v in s["labels"].items()) if s["labels"] else s.get("label_range", "")
            t.add_row(
                name,
                f"{s['examples']:,}",
                labels,
                *(str(lens[p]) for p in ("p50", "p90", "p95", "p99", "max")),
                "-" if s["truncated_at_128"] is None else f"{100 * s['truncated_at_128']:.1f}%",
            )
        console.print(t)
        for i, ex in enumerate(record["examples"], 1):
            text = " ".join(ex["text"].split())[:200]
            pair = "  ||  " + " ".join(ex["text_pair"].split())[:200] if ex.get("text_pair") is not None else ""
            console.print(escape(f"{i}. [{ex['label']}] {text}{pair}"))
