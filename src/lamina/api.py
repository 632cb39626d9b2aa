"""The Python API: every command as a function, for notebooks and scripts.

``lamina.prune``, ``lamina.finetune``, ``lamina.distill``, ``lamina.evaluate``, ``lamina.export``,
``lamina.lottery``, ``lamina.lifelong``, ... are made from the same ``Config`` models as the
commands (one definition of every setting): their keyword arguments are the command's settings
(``max_length=128`` for ``--max-length 128``), their signatures and docstrings come from the
fields, and their values are validated the same way: bad input raises :class:`lamina.LaminaError`
with the same one-line message the CLI prints. A command's positional argument may come first
(``lamina.prune("minilm-l6", keep=3, output="out")``). Each also takes the command's config object
(``lamina.distill(cfg)``, or ``lamina.distill(cfg, seed=1)`` to change one setting), and returns a
:class:`Result`: the results record, the config, and where the model went.

``lamina.prune`` also takes a model object (``lamina.prune(model, keep=3)``) and then returns the
pruned model in memory, with no folder written unless ``output=`` is given.

The functions are made on first use (``lamina.<name>`` is looked up lazily), so ``import lamina``
stays light.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from lamina.config import configure
from lamina.results import Result

__all__ = ["Result", "configure", "function", "names", "run"]

# Python name → command name, where they differ (`lamina.data` is the data package: `lamina data` is describe_data)
_RENAMED = {"evaluate": "eval", "generate_targets": "generate-targets", "describe_data": "data"}
# commands that are no API function (a server, a report over folders of records)
_NOT_API = {"serve"}


def command_of(name: str) -> str:
    return _RENAMED.get(name, name.replace("_", "-"))


def python_name(command: str) -> str:
    back = {v: k for k, v in _RENAMED.items()}
    return back.get(command, command.replace("-", "_"))


def names() -> list[str]:
    """The API's function names (one per command that runs a job)."""
    from lamina.workflows import WORKFLOWS

    return sorted(python_name(c) for c in WORKFLOWS.names() if c not in _NOT_API)


def run(command: str, config=None, /, **settings) -> Result:
    """Run the command ``command`` (its CLI name, e.g. ``"generate-targets"``) with a config object and/or
    its settings as keywords."""
    from lamina.workflows import WORKFLOWS, RunContext

    workflow = WORKFLOWS.get(command)
    cfg = configure(workflow.Config, config, settings, caller=f"lamina.{python_name(command)}()")
    record = workflow().run(cfg, RunContext(log=print))
    output = getattr(cfg, "output", None)
    return Result(record=record, config=cfg, output=Path(output) if output else None)


def _signature(config_cls) -> inspect.Signature:
    params = [
        inspect.Parameter(
            "config", inspect.Parameter.POSITIONAL_ONLY, default=None, annotation=f"{config_cls.__name__} | str | None"
        )
    ]
    fields = sorted(config_cls.model_fields.items(), key=lambda item: not item[1].is_required())  # required first
    for name, f in fields:
        default = inspect.Parameter.empty if f.is_required() else f.get_default(call_default_factory=True)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=f.annotation))
    return inspect.Signature(params, return_annotation=Result)


def _docstring(workflow, name: str) -> str:
    cfg = workflow.Config
    lines = [
        (inspect.getdoc(workflow) or "").strip(),
        "",
        f"The Python form of ``lamina {command_of(name)}``: the same settings, as keywords, or a "
        f"``{cfg.__name__}`` as the first argument. Returns a :class:`lamina.api.Result`.",
        "",
        "Parameters:",
    ]
    for field_name, f in cfg.model_fields.items():
        default = "required" if f.is_required() else f"default {f.get_default(call_default_factory=True)!r}"
        lines.append(f"    {field_name} ({default}): {f.description or ''}")
    return "\n".join(lines)


def function(name: str):
    """The API function ``name`` (``prune``, ``evaluate``, ...), made from its command's Config."""
    from lamina.workflows import WORKFLOWS

    if name not in names():
        raise AttributeError(f"module 'lamina' has no attribute '{name}'")
    command = command_of(name)
    workflow = WORKFLOWS.get(command)
    special = getattr(workflow, "api", None)  # a command with more to say in Python (prune: a model object)

    def call(config=None, /, **settings) -> Result:
        if isinstance(config, (str, Path)) and workflow.arguments:  # lamina.prune("minilm-l6", ...): the argument
            settings = {workflow.arguments[0]: str(config), **settings}
            config = None
        if special is not None:
            result = special(config, settings)  # NotImplemented: the common path
            if result is not NotImplemented:
                return result
        return run(command, config, **settings)

    call.__name__ = call.__qualname__ = name
    call.__module__ = "lamina"
    call.__signature__ = _signature(workflow.Config)
    call.__doc__ = _docstring(workflow, name) + (f"\n\n{inspect.getdoc(special)}" if special is not None else "")
    return call
