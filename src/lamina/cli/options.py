"""Typer commands generated from a workflow's ``Config``: one definition of every setting.

Each config field becomes an option named after it (``max_length`` → ``--max-length``),
with the field's description as help and the field's default shown; the fields a workflow
lists in ``arguments`` are positional. A renamed setting's old flag (``Config.renamed``) is a
hidden option that the model refuses, naming the new flag. Every command also takes ``--config FILE.yaml``: the
file's settings are the base and the flags typed on the command line override them. The
pydantic model alone validates the result, so a value is checked the same way from a flag,
a file or a recipe, and a bad one is named the way its source spells it.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Optional, Union

import typer

from lamina.config import flag_name, load_settings_file, validate

CONFIG_HELP = "YAML file with this command's settings (keys as in --help, e.g. max_length); flags override it."


def _strip_optional(tp):
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _base(tp):
    tp = _strip_optional(tp)
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return _strip_optional(tp)


def cli_type(annotation) -> tuple[Any, bool]:
    """(the type typer parses, whether the option repeats) for a field's annotation."""
    tp = _base(annotation)
    origin = typing.get_origin(tp)
    if tp in (bool, int, float, str):
        return tp, False
    if origin is typing.Literal:
        return str, False
    if origin is list and typing.get_args(tp) and typing.get_args(tp)[0] is str:
        return list[str], True
    if origin is dict:
        return list[str], True  # NAME=VALUE, repeatable (or comma-separated)
    return str, False  # numbers lists and unions: one comma-separated value, parsed by the field's validator


def _shown_default(field) -> str | None:
    if field.is_required():
        return None
    default = field.get_default(call_default_factory=True)
    if default is None or default == [] or default == {} or default is ...:
        return None
    if isinstance(default, dict):
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in default.items())
    if isinstance(default, (list, tuple)):
        return ",".join(map(str, default))
    return None


def _parameter(name: str, field, positional: bool, show_default: bool = True) -> inspect.Parameter:
    tp, repeats = cli_type(field.annotation)
    extra = field.json_schema_extra or {}
    help_ = field.description or ""
    if typing.get_origin(_base(field.annotation)) is typing.Literal:
        help_ += f" [one of: {', '.join(map(str, typing.get_args(_base(field.annotation))))}]"
    shown = _shown_default(field)
    if shown:
        help_ += f" [default: {shown}]"
    elif not show_default and not field.is_required() and field.get_default() is not None:
        help_ += f" [default: {field.get_default()}]"
    if positional:
        if not field.is_required() and not shown and field.get_default() is not None:
            help_ += f" [default: {field.get_default()}]"
        info = typer.Argument(None, help=help_, show_default=False, metavar=name.upper())
        annotation = Optional[tp]
    else:
        decls = [flag_name(name)]
        if extra.get("flag"):
            decls.append(extra["flag"])
        if tp is bool:
            decls = [f"{flag_name(name)}/--no-{name.replace('_', '-')}"] + (
                [extra["flag"]] if extra.get("flag") else []
            )
        simple = tp in (bool, int, float, str) and not repeats and show_default
        default = field.get_default(call_default_factory=True) if simple and not field.is_required() else None
        if tp is bool and not show_default:  # a setting of one method: unset unless typed
            tp = Optional[bool]
        info = typer.Option(
            default, *decls, help=help_, show_default=simple and default is not None, hidden=bool(extra.get("hidden"))
        )
        annotation = Optional[tp] if tp is not bool else bool
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def _refused_parameter(old: str, new: str, field) -> inspect.Parameter:
    """A renamed setting's old flag: hidden, taking what the new one takes, refused by the settings model
    with one line naming the new flag."""
    tp, repeats = cli_type(field.annotation)
    if tp is bool:
        decls, annotation = [f"{flag_name(old)}/--no-{old.replace('_', '-')}"], Optional[bool]
    else:  # any text: the refusal names the new flag whatever the value
        decls, annotation = [flag_name(old)], (Optional[list[str]] if repeats else Optional[str])
    info = typer.Option(None, *decls, help=f"Renamed {flag_name(new)}.", show_default=False, hidden=True)
    return inspect.Parameter(old, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def given_on_command_line(ctx: typer.Context, values: dict) -> dict:
    # compared by name: typer ships its own copy of click, with its own ParameterSource enum
    return {
        k: v
        for k, v in values.items()
        if getattr(ctx.get_parameter_source(k), "name", "") in ("COMMANDLINE", "ENVIRONMENT")
    }


def build_command(workflow_cls, *, run):
    """A typer callback for ``workflow_cls``: flags and ``--config`` → Config → ``run(workflow, cfg)``."""
    Config = workflow_cls.Config
    fields = {n: f for n, f in Config.model_fields.items() if (f.json_schema_extra or {}).get("cli", True)}
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for name in workflow_cls.arguments:
        params.append(_parameter(name, fields[name], positional=True))
    own = [n for n in Config.__annotations__ if n in fields]  # the command's own settings first, then shared ones
    order = own + [n for n in fields if n not in own]
    params += [_parameter(n, fields[n], positional=False) for n in order if n not in workflow_cls.arguments]
    renamed = Config.renamed_settings() if hasattr(Config, "renamed_settings") else {}
    extra = Config.extra_cli_fields() if hasattr(Config, "extra_cli_fields") else {}
    params += [_parameter(n, f, positional=False, show_default=False) for n, f in extra.items() if n not in renamed]
    params += [_refused_parameter(old, new, Config.model_fields[new]) for old, new in renamed.items()]
    params.append(
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--config", help=CONFIG_HELP),
            annotation=Optional[str],
        )
    )

    def callback(ctx: typer.Context, **values):
        config_file = values.pop("config", None)
        given = given_on_command_line(ctx, values)
        given = {k: v for k, v in given.items() if not (isinstance(v, list) and not v)}
        settings = {**(load_settings_file(config_file) if config_file else {}), **given}
        cfg = validate(Config, settings, flags=set(given), source=config_file, arguments=workflow_cls.arguments)
        return run(workflow_cls(), cfg)

    callback.__signature__ = inspect.Signature(params)
    callback.__annotations__ = {}
    callback.__name__ = workflow_cls.name.replace("-", "_")
    callback.__doc__ = workflow_cls.help()
    return callback
