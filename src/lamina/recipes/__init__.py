"""Recipes: a YAML pipeline of lamina steps (finetune, prune, distill, pretrain, eval,
report, and every other registered command) with grids, references between steps, forms (cpu / paper) and resumption.
See :mod:`lamina.recipes.schema` for the file format."""

from lamina.recipes.kinds import get_kind, step_kinds
from lamina.recipes.plan import Run, plan
from lamina.recipes.runner import describe_plan, execute, prepare, run_recipe
from lamina.recipes.schema import Recipe, load_recipe, parse_recipe

__all__ = [
    "Recipe",
    "Run",
    "describe_plan",
    "execute",
    "get_kind",
    "load_recipe",
    "parse_recipe",
    "plan",
    "prepare",
    "run_recipe",
    "step_kinds",
]
