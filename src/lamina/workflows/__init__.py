"""Workflows: one module per command, each a pydantic ``Config`` plus a ``run``.

A workflow is registered once (``@register_workflow("name")``) and is then, with no other
edit:

- the command ``lamina name`` (its options generated from ``Config`` by
  :mod:`lamina.cli.options`, ``--config FILE.yaml`` included),
- the recipe step kind ``name`` (a step's ``args`` validated into the same ``Config``),
- a record kind that ``lamina report`` reads (unless ``in_reports`` is off).

A command owns what is shown of its records, in its own class: ``card`` (the model card in its
output folder, written by :func:`lamina.models.card.write_card`), ``show`` (what the terminal
prints when it is done), ``report_row`` (its fields of a ``lamina report`` row) and
``lineage_parent`` / ``lineage_summary`` (its place in a model's lineage). Those hooks come from
:class:`lamina.results.RecordKind`; registering a workflow registers it as its record kind too
(:data:`lamina.results.RECORD_KINDS`), which is how cards, reports and lineage, below this
layer, reach them.

A command's own results are typed too, in its class: ``Section``, a
:class:`lamina.results.RecordPart` model of its section ``record[name]`` (``section_key`` when
records use another key), and, for a kind that keeps keys of its own at the record's top level
(eval's ``backend``, lifelong's ``matrix``), ``TopLevel``. Writing the record
(:func:`lamina.results.write_record`) validates them with the common part
(:class:`lamina.results.Record`) and refuses a key no model names: a new command's section is
one model, in its own file.

Every module of this package is imported by the registry when a command is first looked
up; a workflow defined elsewhere registers itself when its module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from lamina.config import Settings, validate
from lamina.registry import Registry
from lamina.results import RECORD_KINDS, RecordKind


class _Commands(Registry):
    """The command registry; every command is also the record kind of its name."""

    def add(self, name: str, entry) -> None:
        super().add(name, entry)
        RECORD_KINDS.remove(name)  # (a kind left behind by a command that was not removed here)
        RECORD_KINDS.add(name, entry)

    def remove(self, name: str) -> None:
        super().remove(name)
        RECORD_KINDS.remove(name)


WORKFLOWS = _Commands("command", package="lamina.workflows")
register_workflow = WORKFLOWS.register


class RunContext:
    """What a run gets besides its config: how to talk, Trainer callbacks, and inside a
    recipe the recipe's data folder, results folder and report metadata."""

    def __init__(
        self,
        *,
        data_dir: str | None = None,
        results_dir: Path | None = None,
        log=print,
        callbacks=None,
        report_meta=None,
        in_recipe: bool = False,
    ):
        self.data_dir = data_dir
        self.results_dir = results_dir
        self.log = log
        self.callbacks = callbacks or []
        self.report_meta = report_meta or {}
        self.in_recipe = in_recipe


class Workflow(RecordKind):
    name: ClassVar[str] = ""
    Config: ClassVar[type[Settings]] = Settings
    arguments: ClassVar[tuple[str, ...]] = ()  # config fields taken as positional command-line arguments
    always_runs: ClassVar[bool] = False  # a recipe step that is never "complete" (reports)
    in_reports: ClassVar[bool] = True  # its records are rows of `lamina report`
    in_recipes: ClassVar[bool] = True  # usable as a recipe step kind
    recipe_defaults: ClassVar[dict] = {}  # args a recipe step starts from
    # Section / section_key / TopLevel: the typed parts of its record (lamina.results.RecordKind)

    @classmethod
    def trains(cls) -> bool:
        """A Trainer run: resumable from OUT.work, so a recipe resumes it after an interruption."""
        return "resume" in cls.Config.model_fields

    @classmethod
    def resumable(cls, work: Path) -> bool:
        """Whether an interrupted run left something in its work folder ``work`` to resume from
        (by default a complete Trainer checkpoint; a command that keeps its own says so)."""
        from lamina.training.workdir import last_checkpoint

        return last_checkpoint(work) is not None

    @classmethod
    def takes_data_dir(cls) -> bool:
        return "data_dir" in cls.Config.model_fields

    @classmethod
    def help(cls) -> str:
        return (cls.__doc__ or "").strip()

    def run(self, cfg, ctx: RunContext) -> dict | None:
        raise NotImplementedError

    def show(self, record: dict | None, cfg, echo) -> None:
        """What the command prints when it is done (``echo`` prints one line)."""
        from lamina.eval.metrics import scores_text

        if record and record.get("metrics"):
            echo(
                f"{record.get('task') or ''} dev: {scores_text(record['metrics'])}  "
                f"({record.get('wall_seconds', 0):.0f} s)".strip()
            )
        output = getattr(cfg, "output", None)
        if output:
            echo(f"saved to {output} (model card: {output}/README.md, metrics: {output}/lamina_results.json)")

    def config(self, args: dict, output: str, data_dir: str | None):
        """A recipe run's ``args`` (plus its output folder) validated into ``Config``."""
        values = {**self.recipe_defaults, **args}
        if "output" in self.Config.model_fields:
            values["output"] = output
        if "overwrite" in self.Config.model_fields and not self.trains():
            values.setdefault("overwrite", True)  # the runner decides what is complete
        if self.takes_data_dir() and data_dir and not values.get("data_dir"):
            values["data_dir"] = data_dir
        return validate(self.Config, values, source=f"{self.name} args")


def record_kinds() -> list[str]:
    """The record kinds `lamina report` reads: every registered workflow that writes one."""
    return [n for n in WORKFLOWS.names() if WORKFLOWS.get(n).in_reports]


def get_workflow(name: str) -> Workflow:
    return WORKFLOWS.get(name)()


__all__ = ["WORKFLOWS", "RunContext", "Workflow", "get_workflow", "record_kinds", "register_workflow"]
