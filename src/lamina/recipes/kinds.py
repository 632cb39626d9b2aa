"""Step kinds: what a recipe step can do.

A step's kind is a registered workflow (:mod:`lamina.workflows`): the same ``Config`` that
the command reads validates a run's ``args`` (plus the runner's output folder), and the same
``run`` makes the run's folder, with ``lamina_results.json`` inside, which is what makes a
run complete. A new command is therefore a new step kind with no edit here.
"""

from __future__ import annotations

from lamina.errors import LaminaError
from lamina.workflows import WORKFLOWS, RunContext, Workflow


def step_kinds() -> list[str]:
    return [n for n in WORKFLOWS.names() if WORKFLOWS.get(n).in_recipes]


def get_kind(name: str) -> Workflow:
    if name not in step_kinds():
        raise LaminaError(f"unknown step kind '{name}'; available: {', '.join(step_kinds())}")
    return WORKFLOWS.get(name)()


__all__ = ["RunContext", "Workflow", "get_kind", "step_kinds"]
