"""The recipe file: a validated pydantic schema (unknown keys are refused).

```yaml
name: poor-mans-bert
description: what the recipe reproduces
output_dir: runs/poor_mans_bert       # -o on the command line overrides it
vars:                                 # usable as ${name} in grids and args
  tasks: [sst2, mrpc, rte]
defaults:                             # args given to every step of a kind
  finetune: {max_length: 128}
overrides:                            # args for the runs whose variables match
  - when: {task: sst2}
    args: {max_train_samples: 2000}
forms:                                # --form NAME: variables and overrides on top
  cpu: {description: "stated subsets", vars: {...}, overrides: [...]}
  paper: {description: ..., vars: {...}}
steps:
  - name: teacher
    kind: finetune                    # finetune | prune | distill | pretrain | eval | report
    grid: {task: ${tasks}, seed: [42, 43]}   # or a list of such grids (their union)
    exclude: [{task: rte, seed: 43}]  # combinations left out (a list value = any of)
    label: "teacher"                  # how the report names its runs (may use ${vars})
    args: {model: minilm-l6, task: ${task}, seed: ${seed}}
  - name: drop
    kind: prune
    args: {model: ${teacher.output}, strategy: top, drop: 3}   # one run per matching teacher run
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lamina.errors import LaminaError

STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
GridSpec = dict[str, Any] | list[dict[str, Any]] | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def matches(when: dict, run_vars: dict) -> bool:
    """All keys of ``when`` are run variables with the given value (a list = any of)."""
    for key, want in when.items():
        wanted = want if isinstance(want, list) else [want]
        if key not in run_vars or run_vars[key] not in wanted:
            return False
    return True


class Override(_Strict):
    when: dict[str, Any] = Field(default_factory=dict)  # run variables that must match (a list = any of)
    kinds: list[str] | None = None  # step kinds it applies to (default: all)
    steps: list[str] | None = None  # step names it applies to (default: all)
    args: dict[str, Any]

    def applies(self, step: Step, run_vars: dict) -> bool:
        if self.kinds is not None and step.kind not in self.kinds:
            return False
        if self.steps is not None and step.name not in self.steps:
            return False
        return matches(self.when, run_vars)


class Form(_Strict):
    description: str = Field(min_length=1)  # say what is subset/shortened: it goes into the report
    vars: dict[str, Any] = Field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    output_dir: str | None = None


class Step(_Strict):
    name: str
    kind: str
    args: dict[str, Any] = Field(default_factory=dict)
    grid: GridSpec | None = None
    exclude: list[dict[str, Any]] | str | None = None  # variable combinations to leave out
    label: str | None = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not STEP_NAME.match(v):
            raise ValueError(f"step name '{v}' must start with a letter and hold only letters, digits, - and _")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from lamina.recipes.kinds import step_kinds

        if v not in step_kinds():
            raise ValueError(f"unknown step kind '{v}'; available: {', '.join(step_kinds())}")
        return v


class Recipe(_Strict):
    name: str
    description: str = ""
    output_dir: str | None = None
    data_dir: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    forms: dict[str, Form] = Field(default_factory=dict)
    default_form: str | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self):
        from lamina.recipes.kinds import step_kinds

        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"two steps are named '{step.name}'")
            if step.name in self.vars:
                raise ValueError(f"'{step.name}' is both a step and a variable")
            seen.add(step.name)
        for kind in self.defaults:
            if kind not in step_kinds():
                raise ValueError(f"defaults: unknown step kind '{kind}'; available: {', '.join(step_kinds())}")
        if self.default_form is not None and self.default_form not in self.forms:
            raise ValueError(f"default_form '{self.default_form}' is not one of the forms ({', '.join(self.forms)})")
        return self

    def with_form(self, form: str | None) -> tuple[Recipe, str | None]:
        """This recipe with a form's variables, defaults and overrides applied on top."""
        form = form or self.default_form
        if form is None:
            return self, None
        if form not in self.forms:
            known = ", ".join(self.forms) or "none"
            raise LaminaError(f"recipe '{self.name}' has no form '{form}' (forms: {known})")
        f = self.forms[form]
        defaults = {k: dict(v) for k, v in self.defaults.items()}
        for kind, args in f.defaults.items():
            defaults[kind] = {**defaults.get(kind, {}), **args}
        merged = self.model_copy(
            update={
                "vars": {**self.vars, **f.vars},
                "defaults": defaults,
                "overrides": [*self.overrides, *f.overrides],
                "output_dir": f.output_dir or self.output_dir,
            }
        )
        return merged, form


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file; any problem is one LaminaError naming the place."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise LaminaError(f"recipe not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LaminaError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise LaminaError(f"{p} must hold a mapping (name, steps, ...)")
    return parse_recipe(data, source=str(p))


def parse_recipe(data: dict, *, source: str = "recipe") -> Recipe:
    try:
        return Recipe(**data)
    except ValidationError as exc:
        raise LaminaError(f"{source}: {_describe(exc, data)}") from None


def _describe(exc: ValidationError, data: dict) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = []
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps") or []
        name = steps[loc[1]].get("name") if loc[1] < len(steps) and isinstance(steps[loc[1]], dict) else None
        where.append(f"step '{name}'" if name else f"step {loc[1] + 1}")
        loc = loc[2:]
    if loc:
        where.append(".".join(map(str, loc)))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{' '.join(where)}: {msg}" if where else msg
