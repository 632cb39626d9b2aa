"""Expand a recipe into runs: grids, joins on shared variables, names, folders, args.

A step's runs are the product of its own grid (``grid:``) and of the runs of the steps
its args refer to (``${step.output}``), keeping only the combinations whose shared
variables agree, so ``${teacher.output}`` in a step with ``grid: {task: [...]}`` picks the
teacher of the same task (and seed). Each run inherits the variables of the runs it was
joined with; its name is the step name plus its variables (``drop-ft-top-k3-sst2-s42``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import LaminaError
from lamina.recipes.interpolate import Ref, refs_in, substitute
from lamina.recipes.kinds import Workflow, get_kind
from lamina.recipes.schema import Recipe, Step, matches

# short name parts for common grid variables: seed 42 → s42, drop 3 → k3
NAME_PREFIX = {"seed": "s", "drop": "k", "keep": "n"}


@dataclass
class Run:
    name: str
    step: Step
    kind: Workflow
    vars: dict
    args: dict  # resolved, except ${best:...} references (resolved when the run starts)
    output: str
    label: str
    deps: list[str] = field(default_factory=list)
    best: dict[str, list[Run]] = field(default_factory=dict)  # step name → candidate runs

    @property
    def deferred(self) -> bool:
        return bool(self.best)


def _name_part(key: str, value) -> str:
    if isinstance(value, (list, tuple)):
        value = "_".join(map(str, value))
    if isinstance(value, str):
        text = value
    elif key in NAME_PREFIX:
        text = f"{NAME_PREFIX[key]}{value}"
    else:
        text = f"{key}{value}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or key


def run_name(step: str, vars_: dict) -> str:
    return "-".join([step, *(_name_part(k, v) for k, v in vars_.items())])


def _resolve_vars(value, recipe_vars: dict, where: str):
    def lookup(ref: Ref):
        if ref.step is not None or ref.name not in recipe_vars:
            raise LaminaError(f"{where}: '${{{ref.text}}}' is not a recipe variable")
        return recipe_vars[ref.name]

    return substitute(value, lookup)


def expand_grid(grid, recipe_vars: dict, where: str) -> list[dict]:
    """``{a: [1, 2], b: x}`` → ``[{a: 1, b: x}, {a: 2, b: x}]``; a list of grids → their union."""
    if grid is None:
        return [{}]
    grid = _resolve_vars(grid, recipe_vars, where)
    grids = grid if isinstance(grid, list) else [grid]
    combos: list[dict] = []
    for g in grids:
        if not isinstance(g, dict):
            raise LaminaError(f"{where}: grid must be a mapping of variable → values (or a list of them)")
        keys = list(g)
        options = [g[k] if isinstance(g[k], list) else [g[k]] for k in keys]
        for k, opts in zip(keys, options):
            if not opts:
                raise LaminaError(f"{where}: grid variable '{k}' has no values")
        for values in itertools.product(*options):
            combo = dict(zip(keys, values))
            if combo not in combos:
                combos.append(combo)
    return combos


def _join(own: dict, chosen: list[Run]) -> dict | None:
    merged: dict = {}
    for run in chosen:
        for k, v in run.vars.items():
            if k in merged and merged[k] != v:
                return None
            merged[k] = v
    for k, v in own.items():
        if k in merged and merged[k] != v:
            return None
        merged[k] = v
    return merged


def _agrees(run: Run, vars_: dict) -> bool:
    return all(vars_[k] == v for k, v in run.vars.items() if k in vars_)


def plan(recipe: Recipe, output_dir: str | Path, *, data_dir: str | None = None) -> list[Run]:
    """Every run of the recipe, in order, with validated args."""
    output_dir = Path(output_dir)
    if data_dir and "data_dir" not in recipe.vars:  # ${data_dir} names the data folder in args
        recipe = recipe.model_copy(update={"vars": {**recipe.vars, "data_dir": str(data_dir)}})
    by_step: dict[str, list[Run]] = {}
    runs: list[Run] = []
    for step in recipe.steps:
        where = f"step '{step.name}'"
        kind = get_kind(step.kind)
        if "output" in step.args:
            raise LaminaError(f"{where}: 'output' is set by the recipe runner (each run gets output_dir/runs/NAME)")
        refs = refs_in(step.args) + refs_in(step.label or "")
        for ref in refs:
            if ref.step is not None and ref.step not in by_step:
                earlier = ", ".join(by_step) or "none"
                raise LaminaError(f"{where}: '${{{ref.text}}}' names no earlier step (earlier steps: {earlier})")
        joined = list(dict.fromkeys(r.step for r in refs if r.step is not None and not r.best))
        best_steps = list(dict.fromkeys(r.step for r in refs if r.best))
        exclude = _resolve_vars(step.exclude or [], recipe.vars, where)
        if not isinstance(exclude, list) or not all(isinstance(e, dict) for e in exclude):
            raise LaminaError(f"{where}: exclude must be a list of variable → value mappings")
        step_runs = []
        for own in expand_grid(step.grid, recipe.vars, where):
            for chosen in itertools.product(*(by_step[s] for s in joined)):
                merged = _join(own, list(chosen))
                if merged is None or any(matches(e, merged) for e in exclude):
                    continue
                run = _make_run(recipe, step, kind, merged, dict(zip(joined, chosen)), by_step, best_steps, output_dir)
                step_runs.append(run)
        if not step_runs:
            raise LaminaError(f"{where}: no runs (its grid and the steps it refers to share no matching variables)")
        by_step[step.name] = step_runs
        runs += step_runs
    _check_unique(runs)
    for run in runs:
        validate_run(run, data_dir)
    return runs


def _make_run(recipe, step, kind, vars_, chosen, by_step, best_steps, output_dir) -> Run:
    where = f"step '{step.name}'"
    name = run_name(step.name, vars_)
    args = {**recipe.defaults.get(step.kind, {}), **step.args}
    for ov in recipe.overrides:
        if ov.applies(step, vars_):
            args.update(ov.args)
    best = {}
    for s in best_steps:
        candidates = [r for r in by_step[s] if _agrees(r, vars_)]
        if not candidates:
            raise LaminaError(f"{where}: no run of '{s}' matches run {name} for ${{best:{s}...}}")
        best[s] = candidates

    def lookup(ref: Ref):
        if ref.best:
            return "${" + ref.text + "}"  # resolved when the run starts
        if ref.step is None:
            if ref.name in vars_:
                return vars_[ref.name]
            if ref.name in recipe.vars:
                return recipe.vars[ref.name]
            if ref.name == "data_dir":  # built in: --data-dir / $LAMINA_DATA_DIR / the recipe's data_dir
                raise LaminaError(f"{where}: uses ${{data_dir}}: pass --data-dir or set LAMINA_DATA_DIR")
            raise LaminaError(f"{where}: unknown variable '${{{ref.text}}}'")
        return run_attr(chosen[ref.step], ref.attr, where)

    folder = output_dir / name if kind.always_runs else output_dir / "runs" / name
    deps = [r.name for r in chosen.values()] + [r.name for rs in best.values() for r in rs]
    return Run(
        name=name,
        step=step,
        kind=kind,
        vars=vars_,
        args=substitute(args, lookup),
        output=str(folder),
        label=str(substitute(step.label, lookup)) if step.label else name,
        deps=list(dict.fromkeys(deps)),
        best=best,
    )


def run_attr(run: Run, attr: str, where: str):
    if attr == "output":
        return run.output
    if attr in run.vars:
        return run.vars[attr]
    raise LaminaError(f"{where}: run {run.name} has no variable '{attr}' (it has: {', '.join(['output', *run.vars])})")


def _check_unique(runs: list[Run]) -> None:
    seen: dict[str, str] = {}
    for run in runs:
        if run.name in seen:
            raise LaminaError(
                f"two runs are named {run.name} (steps '{seen[run.name]}' and '{run.step.name}'): rename a step"
            )
        seen[run.name] = run.step.name


def resolve_best(run: Run, pick, value=None):
    """``value`` (default: the run's args) with ``${best:step.x}`` filled in; ``pick(candidates)``
    returns the best run."""
    chosen = {s: pick(cands) for s, cands in run.best.items()}

    def lookup(ref: Ref):
        if not ref.best:
            raise LaminaError(f"unresolved '${{{ref.text}}}' in run {run.name}")
        return run_attr(chosen[ref.step], ref.attr, f"step '{run.step.name}'")

    return substitute(run.args if value is None else value, lookup)


def validate_run(run: Run, data_dir: str | None):
    """Build the workflow config now, so a bad value fails before any training starts."""
    args = resolve_best(run, lambda cands: cands[0]) if run.deferred else run.args
    try:
        return run.kind.config(args, run.output, data_dir)
    except LaminaError as exc:
        raise LaminaError(f"step '{run.step.name}' (run {run.name}): {exc}") from None
