"""The results record: one JSON per run (``lamina report`` reads them: lamina.reports).

Every run writes ``lamina_results.json`` (in its output folder, or where ``--json`` says)
with the same top-level keys, typed by :class:`Record`::

    kind      the workflow that wrote it (prune | finetune | distill | eval | ...)
    command   the command line that made it
    model     the model it started from;  task  the task (or null)
    config    the settings of the run
    metrics   task metrics ({} when none were measured)
    sizes     parameters, layers, bytes on disk (:class:`Sizes`)
    speeds    throughput figures from lamina.eval.timing
    versions  lamina, torch, transformers, onnxruntime, python (:class:`Versions`)
    seed      the seed (or null);  started_at, wall_seconds  when it ran, how long it took
    lineage   the runs its model came from (:class:`LineageEntry`)

plus the section of its kind under the kind's name (``record["prune"]``: the ``Section`` model
of the command, :class:`RecordKind`), and the keys some kinds share (``training``, ``mask``,
``recipe``, ``curve``, what a scorer adds: ``examples`` ...). :func:`write_record` validates a
record by these models before writing it; :func:`read_record` gives the typed view back, and
accepts keys no model names (older records, keys of a kind no longer registered).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lamina.io import write_json
from lamina.registry import Registry

RESULTS_FILE = "lamina_results.json"


class InvalidRecord(ValueError):
    """A record that does not fit its models: written, a bug of the command that made it; read,
    a file that is no lamina record."""


# ---------------------------------------------------------------- the typed record

_WRITING = {"writing": True}


class RecordPart(BaseModel):
    """Base of every typed part of a record (the common part, a kind's section). Reading accepts
    keys a model does not name (older records, newer ones); writing refuses them, unless the part
    is ``open`` (its keys come from several places: a kind's lineage summary, an objective's
    training info). Fields that older records may lack take defaults."""

    model_config = ConfigDict(extra="allow")
    open: ClassVar[bool] = False

    @model_validator(mode="after")
    def _known_keys_only_when_written(self, info: ValidationInfo):
        if (info.context or {}).get("writing") and not self.open and self.model_extra:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, sorted(self.model_extra)))} (not fields of {type(self).__name__})"
            )
        return self


class Sizes(RecordPart):
    layers: int | None = None
    parameters: int | None = None
    bytes: int | None = None  # the weights on disk
    shape: dict[str, int] | None = None  # layers, hidden, heads, kv_heads, ffn (lamina.models.width.model_shape)
    layers_before: int | None = None  # a pruning's source
    parameters_before: int | None = None
    bytes_before: int | None = None
    nonzero_prunable: int | None = None  # a lottery ticket's surviving weights


class Versions(RecordPart):
    lamina: str | None = None
    torch: str | None = None
    transformers: str | None = None
    onnxruntime: str | None = None  # (older records lack it)
    python: str | None = None


class LineageEntry(RecordPart):
    """One run of a lineage: kind, path, layers, then what its kind's ``lineage_summary`` adds."""

    open = True
    kind: str | None = None
    path: str | None = None
    layers: int | None = None
    strategy: str | None = None
    layers_before: int | None = None
    kept_layers: list[int] | None = None
    speedup: float | None = None
    speedup_range: list[float] | None = None


class RecipeRun(RecordPart):
    """Where a recipe ran the run (added by ``lamina run`` when it gathers the record)."""

    name: str | None = None
    form: str | None = None
    step: str | None = None
    kind: str | None = None
    run: str | None = None
    label: str | None = None
    vars: dict[str, Any] = {}
    args: dict[str, Any] = {}
    output: str | None = None


class TrainingSummary(RecordPart):
    """A training run's summary (lamina.training.finish.training_summary), plus what its command
    and the task objective's data add (``Prepared.info``: open)."""

    open = True
    dev_loss: float | None = None
    global_steps: int | None = None
    epochs_done: float | None = None
    train_loss_first: float | None = None
    train_loss_last: float | None = None
    train_loss_mean: float | None = None
    best_checkpoint: str | None = None
    resumed_from: str | None = None
    loss_curve: list[list[float]] | None = None
    eval_curve: dict[str, list[list[float]]] | None = None
    train_examples: int | None = None
    eval_examples: dict[str, int] | None = None
    source_path: str | None = None
    train_blocks: int | None = None
    eval_blocks: int | None = None
    steps_per_round: int | None = None


class MaskInfo(RecordPart):
    """The sparsity mask a fine-tuning or distillation held (``--mask``)."""

    path: str
    init: str | None = None
    sparsity: float | None = None
    matrices: int | None = None
    found_on: dict[str, Any] = {}


class Record(RecordPart):
    """The part every record has (and the keys several kinds share). A kind's own section is
    an extra key here, typed by :meth:`section`."""

    kind: str
    command: str | None = None
    model: str | None = None
    task: str | None = None
    config: dict[str, Any] = {}
    metrics: dict[str, float | None] = {}
    sizes: Sizes = Sizes()
    speeds: dict[str, Any] = {}
    versions: Versions = Versions()
    seed: int | None = None
    started_at: str | None = None
    wall_seconds: float | None = None
    lineage: list[LineageEntry] | None = None
    recipe: RecipeRun | None = None  # a recipe's run
    curve: dict[str, list[list[float]]] | None = None  # learning curves gathered by a recipe
    training: TrainingSummary | None = None  # training kinds (finetune, distill, lottery, pretrain)
    mask: MaskInfo | None = None  # finetune, distill with --mask
    # what a task objective's scorer adds (eval, export)
    examples: dict[str, int | str] | None = None
    labels_scored: dict[str, dict[str, int]] | None = None
    logit_bias: dict[str, float] | None = None
    class_errors: dict[str, int] | None = None

    # what every record written by new_record + finish_record has (older or hand-made ones may lack some)
    written: ClassVar[tuple[str, ...]] = (
        "command",
        "model",
        "task",
        "config",
        "metrics",
        "sizes",
        "speeds",
        "versions",
        "seed",
        "started_at",
        "wall_seconds",
        "lineage",
    )
    _data: dict | None = PrivateAttr(None)

    @field_validator("config", "metrics", "sizes", "speeds", "versions", mode="before")
    @classmethod
    def _null_is_empty(cls, value, info: ValidationInfo):
        # (read: an older or hand-made record's null reads as empty, as readers always took it)
        return {} if value is None and not (info.context or {}).get("writing") else value

    @model_validator(mode="after")
    def _complete_when_written(self, info: ValidationInfo):
        missing = [k for k in self.written if k not in self.model_fields_set]
        if (info.context or {}).get("writing") and missing:
            raise ValueError(f"missing {', '.join(missing)} (a record is made by new_record, then finish_record)")
        return self

    def data(self) -> dict:
        """The record as a plain dict: the JSON as read (what the kinds' hooks take)."""
        return self._data if self._data is not None else self.model_dump(mode="json", exclude_unset=True)

    def section(self) -> BaseModel | None:
        """This record's own section (``record[kind]``), validated by its kind's ``Section``
        model; None when the kind has none or the record lacks it."""
        kind = record_kind(self.kind)
        raw = (self.model_extra or {}).get(kind.section_key or self.kind)
        if kind.Section is None or raw is None:
            return None
        try:
            return kind.Section.model_validate(raw)
        except ValidationError as e:
            raise InvalidRecord(f"the '{self.kind}' section does not fit {kind.Section.__name__}: {e}") from e


def is_record(data) -> bool:
    """Whether some JSON is a lamina results record (by its kind and command)."""
    return isinstance(data, dict) and isinstance(data.get("kind"), str) and "command" in data


def as_record(data: dict, *, source=None) -> Record:
    """The typed view of a record read as a dict (lenient: older records and unknown keys are read)."""
    try:
        record = Record.model_validate(data)
    except ValidationError as e:
        raise InvalidRecord(f"{source or 'a record'}: not a lamina results record ({e})") from e
    record._data = data
    return record


def read_record(path: str | Path) -> Record:
    """The record in ``path`` (a lamina_results.json, or a recipe's results/RUN.json), typed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidRecord(f"{path}: not JSON ({e})") from e
    if not isinstance(data, dict):
        raise InvalidRecord(f"{path}: not a lamina results record")
    return as_record(data, source=path)


def check_record(record: dict) -> dict:
    """The JSON of ``record`` (as it will be written), validated: the common part by
    :class:`Record`, the kind's section by its ``Section``, its other keys by its ``TopLevel``
    (strictly, unknown keys refused). Raises :class:`InvalidRecord` when it does not fit."""
    data = json.loads(json.dumps(record, default=str))
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise InvalidRecord("a results record is a dict with a 'kind'")
    name = data["kind"]
    kind = record_kind(name)
    key = kind.section_key or name
    own = set(kind.TopLevel.model_fields) if kind.TopLevel is not None else set()
    if kind.Section is not None:
        own.add(key)
    parts = [("its common part", Record, {k: v for k, v in data.items() if k not in own})]
    if kind.Section is not None and data.get(key) is not None:
        parts.append((f"its section '{key}'", kind.Section, data[key]))
    if kind.TopLevel is not None:
        parts.append(
            ("its own top-level keys", kind.TopLevel, {k: data[k] for k in kind.TopLevel.model_fields if k in data})
        )
    errors = []
    for what, model, value in parts:
        try:
            model.model_validate(value, strict=True, context=_WRITING)
        except ValidationError as e:
            errors.append(f"{what} ({model.__name__}): {e}")
    if errors:
        raise InvalidRecord(
            f"the '{name}' results record does not fit its models (a bug of the command "
            "that made it):\n" + "\n".join(errors)
        )
    return data


def write_record(path: str | Path, record: dict) -> Path:
    """Write ``record`` as JSON (atomically) once :func:`check_record` has validated it: the one
    place records are written."""
    return write_json(path, check_record(record))


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["lamina", *sys.argv[1:]])


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import torch
    import transformers

    from lamina import __version__

    try:  # int8 scores move with the ONNX Runtime release (quickstart int8: 95.69 once, 95.45 on 1.32.0)
        ort = version("onnxruntime")
    except PackageNotFoundError:
        ort = None
    return {
        "lamina": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": ort,
        "python": platform.python_version(),
    }


def new_record(kind: str, *, model: str, task: str | None = None, config: dict | None = None, seed=None) -> dict:
    return {
        "kind": kind,
        "command": command_line(),
        "model": model,
        "task": task,
        "config": config or {},
        "metrics": {},
        "sizes": {},
        "speeds": {},
        "versions": versions(),
        "seed": seed,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "_t0": time.time(),
    }


def finish_record(record: dict) -> dict:
    """Stamp the wall time and the lineage (the runs the model came from, read now, while their
    folders exist: a report made after they are deleted still knows which pruning a model had)."""
    t0 = record.pop("_t0", None)
    if t0 is not None:
        record["wall_seconds"] = round(time.time() - t0, 2)
    record["lineage"] = lineage(record)
    return record


# ---------------------------------------------------------------- record kinds


class RecordKind:
    """What lamina makes of one kind of record besides its JSON: its model card, the extra fields
    of its ``lamina report`` row and its place in a lineage. Every command
    (:class:`lamina.workflows.Workflow`) is one, registered under its name in :data:`RECORD_KINDS`,
    so the shared code (cards, reports, lineage) asks the record's kind, never compares kinds.
    These defaults fit a record with no section of its own (and a kind no longer registered).

    A kind's own results are typed: ``Section`` is the model (a :class:`RecordPart`) of its
    section, ``record[section_key]`` (the kind's name unless ``section_key`` says otherwise:
    ``generate-targets`` writes ``generation``); ``TopLevel``, when set, the model of the keys it
    keeps at the record's top level because older records have them there (eval's ``backend``,
    ``depths``; lifelong's ``matrix`` ...). :func:`write_record` validates both, and refuses a
    key that neither they nor :class:`Record` name."""

    Section: ClassVar[type[BaseModel] | None] = None
    section_key: ClassVar[str | None] = None
    TopLevel: ClassVar[type[BaseModel] | None] = None

    def card(self, folder: Path, record: dict, **context) -> list[str] | Path | None:
        """The model card of ``record`` written to ``folder`` (README.md): its lines (which
        :func:`lamina.models.card.write_card` writes), the path of a card it wrote itself, or
        None for no card. ``context`` is what the run knows besides the record (``name``: the
        final folder name, ``task``, ``auto_class`` ...)."""
        return None

    def report_row(self, record: dict) -> dict:
        """Fields of this record's report row (:class:`lamina.reports.collect.Row`) that differ
        from what every record gives."""
        return {}

    def exported_format(self, record: dict) -> str | None:
        """The export format (``onnx``, ``onnx-int8``, ...) of the model in this record's folder;
        None for a PyTorch folder."""
        return None

    def lineage_parent(self, record: dict) -> str | None:
        """The model (folder) this run started from, followed to build the lineage."""
        return record.get("model")

    def lineage_summary(self, record: dict) -> dict:
        """What this run adds to its entry in a lineage besides kind, path and layers (a
        pruning: strategy, layers before, kept layers, speed-up)."""
        return {}


# every command registers here under its name (lamina.workflows.WORKFLOWS mirrors into it)
RECORD_KINDS = Registry("record kind", package="lamina.workflows")


def record_kind(record_or_kind: dict | Record | str | None) -> RecordKind:
    """The hooks of a record's kind (a plain :class:`RecordKind` for an unknown kind)."""
    kind = (
        record_or_kind.get("kind")
        if isinstance(record_or_kind, dict)
        else record_or_kind.kind
        if isinstance(record_or_kind, Record)
        else record_or_kind
    )
    entry = RECORD_KINDS.entries.get(kind) if isinstance(kind, str) else None
    return entry() if entry is not None else RecordKind()


# ---------------------------------------------------------------- lineage


def _parent(record: dict) -> str | None:
    return record_kind(record).lineage_parent(record)


def _summary(record: dict, path: str | None) -> dict:
    out = {"kind": record.get("kind"), "path": path, "layers": (record.get("sizes") or {}).get("layers")}
    out.update(record_kind(record).lineage_summary(record))
    return out


def lineage(record: dict, *, max_depth: int = 12) -> list[dict]:
    """The record itself, then the runs its model came from (followed through output folders
    that hold a lamina_results.json), nearest first."""
    chain = [_summary(record, (record.get("recipe") or {}).get("output"))]
    seen: set[str] = set()
    current = record
    for _ in range(max_depth):
        parent = _parent(current)
        if not parent or parent in seen:
            break
        seen.add(parent)
        path = Path(parent) / RESULTS_FILE
        try:  # (a model that is no folder, e.g. "random init from {config JSON}", may not even be a valid path)
            if not path.is_file():
                break
            typed = read_record(path)
        except (OSError, InvalidRecord):
            break
        current = typed.data()
        chain.append(_summary(current, parent))
        if len(typed.lineage or []) > 1:  # the parent stored its own ancestry when it ran
            chain.extend(current["lineage"][1:])
            break
    return chain


# ---------------------------------------------------------------- what a Python call returns


@dataclass
class Result:
    """What a call returns: the run's results record (the same ``lamina_results.json`` the command
    writes), its validated config, and the model when it stayed in memory."""

    record: dict
    config: Any
    model: Any = field(default=None, repr=False)
    output: Path | None = None  # the folder the run wrote (None when it wrote none)

    @property
    def metrics(self) -> dict:
        return self.record.get("metrics") or {}

    def load(self, auto_class: str | None = None):
        """The written model, loaded with vanilla transformers (``auto_class`` e.g.
        ``"AutoModelForSequenceClassification"``; default: the class the folder's config names)."""
        import transformers

        if self.output is None:
            raise ValueError("this run wrote no model folder (pass output=...)")
        if auto_class is None:
            arch = (json.loads((self.output / "config.json").read_text()).get("architectures") or [None])[0]
            if arch and hasattr(transformers, arch):
                return getattr(transformers, arch).from_pretrained(self.output)
            auto_class = "AutoModel"
        return getattr(transformers, auto_class).from_pretrained(self.output)
