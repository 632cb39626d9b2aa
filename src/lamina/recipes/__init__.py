"""Recipes: a YAML pipeline of lamina steps (finetune, prune, distill, pretrain, eval,
report) with grids, references between steps, forms (cpu / paper) and resumption.
See :mod:`lamina.recipes.schema` for the file format."""

from lamina.recipes.kinds import STEP_KINDS, StepKind, register_kind
from lamina.recipes.plan import Run, plan
from lamina.recipes.runner import describe_plan, execute, prepare, run_recipe
from lamina.recipes.schema import Recipe, load_recipe, parse_recipe

__all__ = [
    "STEP_KINDS", "Recipe", "Run", "StepKind", "describe_plan", "execute", "load_recipe", "parse_recipe", "plan",
    "prepare", "register_kind", "run_recipe",
]
