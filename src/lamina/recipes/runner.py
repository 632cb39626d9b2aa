"""``lamina run RECIPE``: execute a recipe's runs in order, skipping complete ones.

A run is complete when its folder holds ``lamina_results.json`` (every workflow writes
its folder atomically, so that file only exists once the run finished). An interrupted
training run resumes from its last checkpoint in ``OUT.work``; anything else incomplete
starts again. Each run's output goes to ``OUTPUT_DIR/logs/RUN.log``; the terminal shows one
progress display. Results JSON (with the run's recipe variables, lineage and learning
curve) are gathered in ``OUTPUT_DIR/results/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from lamina.errors import LaminaError
from lamina.eval.metrics import scores_text
from lamina.io import write_json
from lamina.recipes.plan import Run, plan, resolve_best
from lamina.recipes.schema import Recipe, load_recipe
from lamina.reports.collect import main_metric
from lamina.results import RESULTS_FILE, command_line

DONE, RESUME, TODO, CHANGED, STALE, ALWAYS = (
    "done",
    "resume",
    "to run",
    "args changed: rerun",
    "input rerun: rerun",
    "always runs",
)


@dataclass
class Outcome:
    recipe: Recipe
    form: str | None
    output_dir: Path
    runs: list[Run]
    selected: list[Run]
    status: dict[str, str]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    data_dir: str | None = None


def _gathered(run: Run, output_dir: Path) -> Path:
    return output_dir / "results" / f"{run.name}.json"


def _stored_args(run: Run, path: Path) -> dict | None:
    """The args the gathered record was made with, read with today's setting names (a record made
    before a rename stored the old ones)."""
    stored = (json.loads(path.read_text(encoding="utf-8")).get("recipe") or {}).get("args")
    if isinstance(stored, dict) and hasattr(run.kind.Config, "upgrade_renamed"):
        stored = run.kind.Config.upgrade_renamed(stored)
    return stored


def _args_changed(run: Run, output_dir: Path) -> bool:
    """True when the run's gathered record was made with other args (a changed recipe, form or
    --set). Runs whose args wait on ${best:...} are compared when they start."""
    path = _gathered(run, output_dir)
    if run.deferred or not path.is_file():
        return False
    try:
        stored = _stored_args(run, path)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return stored is not None and _comparable(stored) != _comparable(run.args)


def _best_changed(run: Run, output_dir: Path) -> bool:
    if not run.deferred or not _gathered(run, output_dir).is_file():
        return False
    stored = _stored_args(run, _gathered(run, output_dir))
    return stored is not None and _comparable(stored) != _comparable(resolve_best(run, _pick_best))


def _comparable(args: dict) -> str:
    return json.dumps(args, sort_keys=True, default=str)


def run_status(run: Run, output_dir: Path) -> str:
    from lamina.training.workdir import work_dir_for

    if run.kind.always_runs:
        return ALWAYS
    if (Path(run.output) / RESULTS_FILE).is_file():
        return CHANGED if _args_changed(run, output_dir) else DONE
    work = work_dir_for(run.output)
    if run.kind.trains() and work.is_dir() and run.kind.resumable(work):
        return RESUME
    return TODO


def prepare(
    recipe: str | Path | Recipe,
    *,
    form: str | None = None,
    output_dir: str | None = None,
    data_dir: str | None = None,
    only: list[str] | None = None,
    set_vars: dict | None = None,
) -> Outcome:
    """Load, validate and plan; nothing is run or written. ``set_vars`` override the
    recipe's variables (after the form's)."""
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    recipe, form = recipe.with_form(form)
    if set_vars:
        unknown = [k for k in set_vars if k not in recipe.vars]
        if unknown:
            known = ", ".join(recipe.vars) or "none"
            raise LaminaError(f"--set {unknown[0]}: recipe '{recipe.name}' has no such variable (variables: {known})")
        recipe = recipe.model_copy(update={"vars": {**recipe.vars, **set_vars}})
    out = Path(output_dir or recipe.output_dir or Path("runs") / recipe.name).expanduser()
    data_dir = data_dir or recipe.data_dir or os.environ.get("LAMINA_DATA_DIR") or None
    runs = plan(recipe, out, data_dir=data_dir)
    selected = runs
    if only:
        known = {r.name for r in runs} | {r.step.name for r in runs}
        unknown = [o for o in only if o not in known]
        if unknown:
            raise LaminaError(f"--only {unknown[0]}: no such step or run in {recipe.name} (see --dry-run)")
        selected = [r for r in runs if r.name in only or r.step.name in only]
    status: dict[str, str] = {}
    for r in runs:  # in order, so a rerun propagates to everything made from it
        status[r.name] = run_status(r, out)
        if status[r.name] == DONE and any(status[d] not in (DONE,) for d in r.deps):
            status[r.name] = STALE
    return Outcome(recipe, form, out, runs, selected, status, data_dir=data_dir)


def describe_plan(outcome: Outcome) -> list[dict]:
    rows = []
    for i, run in enumerate(outcome.selected, 1):
        shown = {
            k: v
            for k, v in run.args.items()
            if k
            in (
                "model",
                "teacher",
                "task",
                "strategy",
                "drop",
                "keep",
                "student",
                "student_from_teacher",
                "loss",
                "seed",
            )
        }
        rows.append(
            {
                "#": i,
                "run": run.name,
                "kind": run.step.kind,
                "status": outcome.status[run.name],
                "args": ", ".join(f"{k}={v}" for k, v in shown.items()),
            }
        )
    return rows


def _pick_best(runs: list[Run]) -> Run:
    """The run with the best main metric, in that metric's direction (lowest loss, highest accuracy)."""
    from lamina.eval.metrics import greater_is_better

    scored = []
    for r in runs:
        path = Path(r.output) / RESULTS_FILE
        if not path.is_file():
            raise LaminaError(f"${{best:{r.step.name}...}} needs run {r.name} to be complete")
        name, score = main_metric(json.loads(path.read_text(encoding="utf-8")))
        if score is None:
            scored.append((float("-inf"), r))
        else:
            scored.append((score if greater_is_better(name) else -score, r))
    return max(scored, key=lambda t: t[0])[1]


def gather(run: Run, outcome: Outcome, record: dict | None = None, args: dict | None = None) -> Path | None:
    """Copy a finished run's record into OUTPUT_DIR/results/RUN.json with what the report needs."""
    from lamina.reports.collect import run_curve
    from lamina.results import lineage, write_record

    if run.kind.always_runs:
        return None
    if record is None:
        record = json.loads((Path(run.output) / RESULTS_FILE).read_text(encoding="utf-8"))
    record = dict(record)
    record["recipe"] = {
        "name": outcome.recipe.name,
        "form": outcome.form,
        "step": run.step.name,
        "kind": run.step.kind,
        "run": run.name,
        "label": run.label,
        "vars": run.vars,
        "args": args if args is not None else run.args,
        "output": run.output,
    }
    record["lineage"] = lineage(record)
    curve = run_curve(run.output, record)
    if curve:
        record["curve"] = curve
    results = outcome.output_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    target = _gathered(run, outcome.output_dir)
    tmp = target.with_name(f".{target.name}.tmp")
    write_record(tmp, record)
    tmp.replace(target)
    return target


def execute(outcome: Outcome, *, console=None) -> Outcome:
    """Run every selected run that is not complete, with one overall progress display."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(file=sys.stdout)
    out = outcome.output_dir
    (out / "logs").mkdir(parents=True, exist_ok=True)
    command = command_line()
    write_json(
        out / "recipe.json",
        {
            "recipe": outcome.recipe.model_dump(),
            "form": outcome.form,
            "runs": [r.name for r in outcome.runs],
            "command": command,
        },
    )
    by_name = {r.name: r for r in outcome.runs}
    meta = {
        "name": outcome.recipe.name,
        "description": outcome.recipe.description,
        "form": outcome.form,
        "form_description": outcome.recipe.forms[outcome.form].description if outcome.form else None,
        "command": command,
    }
    total = len(outcome.selected)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(
        *columns, console=console, redirect_stdout=False, redirect_stderr=False, disable=not console.is_terminal
    ) as progress:
        overall = progress.add_task("recipe", total=total)
        for i, run in enumerate(outcome.selected, 1):
            status = outcome.status[run.name]
            progress.update(overall, description=f"step {i}/{total}: {run.name}")
            if status == DONE and (any(d in outcome.ran for d in run.deps) or _best_changed(run, out)):
                status = CHANGED  # made from something that was just made again, or from another best run
            if status == DONE:
                args = run.args
                if run.deferred:
                    args = resolve_best(run, _pick_best)
                    run.label = resolve_best(run, _pick_best, run.label)
                gather(run, outcome, args=args)  # refresh labels and lineage; cheap
                outcome.skipped.append(run.name)
                console.print(f"[dim]· {run.name}: complete, skipped[/dim]")
                progress.advance(overall)
                continue
            missing = [d for d in run.deps if run_status(by_name[d], out) != DONE]
            if missing:
                raise LaminaError(f"run {run.name} needs {missing[0]}, which is not complete (run without --only)")
            record = _run_one(run, outcome, progress, meta, resume=status == RESUME)
            outcome.ran.append(run.name)
            outcome.status[run.name] = DONE if not run.kind.always_runs else ALWAYS
            if run.kind.always_runs:
                outcome.reports.append(Path(run.output))
                console.print(f"[green]✓[/green] {run.name}: report in {run.output}")
            else:
                name, score = main_metric(record)
                shown = scores_text({name: score}) if score is not None else ""
                wall = record.get("wall_seconds")
                console.print(f"[green]✓[/green] {run.name}  {shown}  ({wall:.0f} s)" if wall else f"✓ {run.name}")
            progress.advance(overall)
    return outcome


def _run_one(run: Run, outcome: Outcome, progress, meta: dict, *, resume: bool):
    from lamina.recipes.kinds import RunContext

    args = resolve_best(run, _pick_best) if run.deferred else run.args
    if run.deferred:
        run.label = resolve_best(run, _pick_best, run.label)
    cfg = run.kind.config(args, run.output, outcome.data_dir)
    if run.kind.trains():
        cfg = cfg.model_copy(update={"resume": resume, "overwrite": not resume})
    log_path = outcome.output_dir / "logs" / f"{run.name}.log"
    sub = progress.add_task(f"  {run.step.kind}", total=None)
    ctx = RunContext(
        data_dir=outcome.data_dir,
        results_dir=outcome.output_dir / "results",
        in_recipe=True,
        callbacks=[_progress_callback(progress, sub)] if run.kind.trains() else [],
        report_meta=meta,
    )
    try:
        with (
            open(log_path, "a", encoding="utf-8") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            ctx.log = lambda msg: print(msg, file=log, flush=True)
            print(f"== {run.name} ({run.step.kind}) {'resumed' if resume else 'started'}\nargs: {args}", flush=True)
            try:
                record = run.kind.run(cfg, ctx)
            except BaseException:
                traceback.print_exc(file=log)
                raise
    except KeyboardInterrupt:
        raise
    except LaminaError as exc:
        raise LaminaError(f"run {run.name} failed: {exc} (log: {log_path}; run again to resume)") from None
    except Exception as exc:
        raise LaminaError(f"run {run.name} failed: {type(exc).__name__}: {exc} (traceback in {log_path})") from None
    finally:
        progress.remove_task(sub)
    if record is not None:
        gather(run, outcome, record, args)
    return record


def _progress_callback(progress, task_id):
    from transformers import TrainerCallback

    class RecipeProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.update(task_id, total=state.max_steps or None, completed=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            progress.update(task_id, completed=state.global_step)

    return RecipeProgress()


def run_recipe(recipe, *, console=None, dry_run: bool = False, **kw) -> Outcome:
    """Plan and run a recipe from Python (``lamina run`` does the same, printing the plan first)."""
    outcome = prepare(recipe, **kw)
    return outcome if dry_run else execute(outcome, console=console)
