"""Tasks: GLUE, the embedded bbc-news, custom files and masked-LM corpora. See :mod:`lamina.tasks.base`.

Every module of this package is imported by the registry when a task is first looked up."""

from lamina.tasks.base import (  # noqa: F401
    TASKS,
    Task,
    TaskOptions,
    all_task_options,
    available_tasks,
    get_task,
    label_distribution,
    register_task,
    split_metrics,
    task_options_model,
)

__all__ = ["TASKS", "Task", "available_tasks", "get_task", "label_distribution", "register_task", "split_metrics"]
