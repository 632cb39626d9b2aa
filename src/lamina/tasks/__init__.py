"""Tasks: GLUE, the embedded bbc-news, custom files and masked-LM corpora. See :mod:`lamina.tasks.base`.

Every module of this package is imported by the registry when a task is first looked up."""

from lamina.tasks.base import TASKS, Task, available_tasks, get_task, label_distribution, register_task, split_metrics

__all__ = ["TASKS", "Task", "available_tasks", "get_task", "label_distribution", "register_task", "split_metrics"]
