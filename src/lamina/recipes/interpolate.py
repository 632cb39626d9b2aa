"""``${...}`` references inside recipe values.

Three forms, all inside ``${ }``:

- ``${name}``: a recipe variable (``vars:``) or a grid variable of the current run;
- ``${step.output}`` / ``${step.VAR}``: the output folder (or a variable) of the run of an
  earlier step that matches the current run (runs match when their shared variables agree);
- ``${best:step.output}`` / ``${best:step.VAR}``: the run of ``step`` with the best main
  metric among the matching ones, resolved when the step runs (its scores must exist).

A value that is exactly one reference keeps the referenced type (a list stays a list);
references inside longer strings are formatted into them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.errors import LaminaError

PATTERN = re.compile(r"\$\{([^}]*)\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_REF = re.compile(rf"^(?:(best):)?({_NAME})(?:\.({_NAME}))?$")


@dataclass(frozen=True)
class Ref:
    """One parsed ``${...}``: a variable (``step`` is None) or a step reference."""

    text: str
    name: str  # the variable, or the step
    attr: str | None = None  # output or a variable of the step's run
    best: bool = False

    @property
    def step(self) -> str | None:
        return self.name if self.attr is not None else None


def parse_ref(text: str) -> Ref:
    m = _REF.match(text.strip())
    if not m:
        raise LaminaError(f"cannot read '${{{text}}}': use ${{var}}, ${{step.output}} or ${{best:step.output}}")
    best, name, attr = m.groups()
    if best and attr is None:
        raise LaminaError(f"'${{{text}}}': best: needs a step and what to take from it, e.g. ${{best:{name}.output}}")
    return Ref(text=text, name=name, attr=attr, best=bool(best))


def refs_in(value) -> list[Ref]:
    """Every reference inside a (nested) value."""
    if isinstance(value, str):
        return [parse_ref(m.group(1)) for m in PATTERN.finditer(value)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in refs_in(v)]
    return []


def substitute(value, lookup):
    """Replace every reference in ``value`` with ``lookup(ref)``."""
    if isinstance(value, str):
        whole = PATTERN.fullmatch(value)
        if whole:
            return lookup(parse_ref(whole.group(1)))
        return PATTERN.sub(lambda m: str(lookup(parse_ref(m.group(1)))), value)
    if isinstance(value, dict):
        return {k: substitute(v, lookup) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute(v, lookup) for v in value]
    return value
