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

        return summarize_task(cfg.task, data_dir=cfg.data_dir, tokenizer_model=cfg.model,
                              task_options=cfg.task_options)

    def show(self, record, cfg, echo) -> None:
        from lamina.display import print_data_summary

        print_data_summary(record)
