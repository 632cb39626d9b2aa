"""Tasks: GLUE, the embedded bbc-news, and custom files. See :mod:`lamina.tasks.base`."""

from lamina.tasks import bbc, glue  # noqa: F401  (registration)
from lamina.tasks.base import Task, available_tasks, get_task, label_distribution, register_task

__all__ = ["Task", "available_tasks", "get_task", "label_distribution", "register_task"]
