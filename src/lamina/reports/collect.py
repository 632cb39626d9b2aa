"""From results JSON to report rows: main score, lineage (which pruning a model came
from, its speed-up), learning curves from the Trainer's TensorBoard logs, groups over seeds."""

from __future__ import annotations

import re
import statistics
import struct
from dataclasses import dataclass, field
from pathlib import Path

from lamina.results import RESULTS_FILE, Record, as_record, lineage, record_kind

# TensorBoard scalars kept as learning curves (eval/* also kept, minus timing figures)
CURVE_TRAIN_TAGS = ("train/loss",)
CURVE_SKIP = ("runtime", "per_second")


def main_metric(record: dict) -> tuple[str | None, float | None]:
    """The task's main metric (the one that picks the best checkpoint) and its value; its
    direction is :func:`lamina.eval.metrics.greater_is_better`."""
    metrics = record.get("metrics") or {}
    if not metrics:
        return None, None
    name = None
    try:
        from lamina.tasks import get_task

        name = get_task(record.get("task") or "").main_metric
    except Exception:  # custom or unknown task: the first metric recorded
        name = None
    if name not in metrics:
        name = next(iter(metrics))
    return name, metrics[name]


# ---------------------------------------------------------------- learning curves


def _read_tfevents(path: Path):
    """(step, tag, value) of the scalars in one TensorBoard event file (TFRecord framing)."""
    from tensorboardX.proto import event_pb2

    data = path.read_bytes()
    i = 0
    while i + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[i : i + 8])
        body = data[i + 12 : i + 12 + length]
        i += 12 + length + 4
        if len(body) < length:
            break  # a truncated last record
        event = event_pb2.Event()
        try:
            event.ParseFromString(body)
        except Exception:
            break
        for v in event.summary.value:
            if v.HasField("simple_value"):
                yield event.step, v.tag, v.simple_value


def learning_curve(folder: str | Path) -> dict[str, list[list[float]]]:
    """{tag: [[step, value], ...]} for the training loss and the eval metrics logged by the
    Trainer (TensorBoard files the workflows copy to OUT/logs)."""
    logs = Path(folder) / "logs"
    curve: dict[str, dict[int, float]] = {}
    if not logs.is_dir():
        return {}
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return {}
    for f in sorted(logs.rglob("events.out.tfevents.*")):
        for step, tag, value in _read_tfevents(f):
            keep = tag in CURVE_TRAIN_TAGS or (tag.startswith("eval/") and not any(s in tag for s in CURVE_SKIP))
            if keep:
                curve.setdefault(tag, {})[int(step)] = float(value)
    return {tag: [[s, v] for s, v in sorted(points.items())] for tag, points in curve.items()}


def run_curve(folder: str | Path | None, record: dict) -> dict[str, list[list[float]]]:
    """A run's learning curves: the TensorBoard files in ``folder/logs`` (when given), completed
    by the record's own history (``training.loss_curve``, ``training.eval_curve``), which
    every training run writes, so curves do not depend on TensorBoard's files being flushed."""
    curve = learning_curve(folder) if folder is not None else {}
    training = record.get("training") or {}
    if training.get("loss_curve") and "train/loss" not in curve:
        curve["train/loss"] = training["loss_curve"]
    for metric, points in (training.get("eval_curve") or {}).items():
        curve.setdefault(f"eval/{metric}", points)
    return curve


# ---------------------------------------------------------------- rows


@dataclass
class Row:
    run: str
    step: str
    kind: str
    label: str
    task: str
    seed: object
    metric: str | None
    score: float | None
    metrics: dict
    layers: int | None
    full_layers: int | None
    parameters: int | None
    strategy: str | None
    speedup: float | None
    series: str = ""  # the line this row belongs to in score-vs-layers views
    speedup_range: tuple | None = None  # (min, max) over the interleaved rounds
    backend: str = "torch"  # torch, torch-int8, onnx, onnx-int8
    output: str | None = None  # the folder the run wrote (its model, for training runs and exports)
    bytes: int | None = None  # the model's files on disk
    latency_ms: float | None = None  # batch 1, median; with its (min, max) over repeats
    latency_range: tuple | None = None
    throughput: float | None = None  # samples/s at the largest batch timed
    throughput_range: tuple | None = None
    speed_key: str | None = None  # rows with the same key share one speed measurement
    measures: bool = False  # the run measured the model named by its record (an eval), its output is no model
    shape: str | None = None  # layers×hidden×heads×FFN (lamina.models.width.shape_text); None in older records
    curve: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)


def _strip_seed(name: str, seed) -> str:
    return re.sub(rf"-s{seed}$", "", name) if seed is not None else name


def _pruning(chain: list[dict]) -> dict | None:
    """The nearest run in a lineage that dropped layers and timed the model before and after
    (its summary carries a speed-up: ``lamina prune``'s)."""
    return next((c for c in chain if "speedup" in c), None)


def shape_text(shape: dict | None) -> str | None:
    from lamina.models.width import shape_text as text

    return text(shape)


def make_row(path: Path, typed: Record | dict) -> Row:
    """A record's report row: what every record gives (read from its typed view), then the fields
    its kind's ``report_row`` hook sets (:class:`lamina.results.RecordKind`)."""
    typed = typed if isinstance(typed, Record) else as_record(typed, source=path)
    record = typed.data()  # the JSON as read: what the kinds' hooks and the report's tables take
    recipe = typed.recipe
    run = (recipe and recipe.run) or (path.parent.name if path.name == RESULTS_FILE else path.stem)
    chain = record.get("lineage") or lineage(record)
    prune = _pruning(chain)
    first = chain[0]
    strategy = (prune or {}).get("strategy") or first.get("strategy")
    sizes = typed.sizes
    layers = sizes.layers
    full = (prune or {}).get("layers_before") or first.get("layers_before") or layers
    metric, score = main_metric(record)
    seed = typed.seed
    speeds = typed.speeds
    output = (recipe and recipe.output) or (str(path.parent) if path.name == RESULTS_FILE else None)
    own = record_kind(typed).report_row(record)
    backend = own.pop("backend", None) or record.get("backend") or speeds.get("backend") or "torch"
    # a pruning's speed-up is PyTorch's: an export's speed is its own backend's (its latency, not this)
    speedup = (prune or {}).get("speedup") if backend == "torch" else None
    curve = record.get("curve")
    if not curve:  # a run folder's own record (not gathered by a recipe): read its logs too
        folder = path.parent if (recipe is None or recipe.output is None) and path.name == RESULTS_FILE else None
        curve = run_curve(folder, record)
    label = recipe and recipe.label
    fields = dict(
        run=run,
        step=(recipe and recipe.step) or typed.kind,
        kind=typed.kind,
        label=label or _strip_seed(run, seed),
        task=typed.task or "",
        seed=seed,
        metric=metric,
        score=score,
        metrics=record.get("metrics") or {},
        layers=layers,
        full_layers=full,
        parameters=sizes.parameters,
        strategy=strategy,
        speedup=speedup,
        curve=curve or {},
        record=record,
        series=label or (prune or {}).get("strategy") or _strip_seed(run, seed),
        speedup_range=tuple(prune["speedup_range"]) if speedup is not None and prune.get("speedup_range") else None,
        backend=backend,
        output=output,
        bytes=sizes.bytes,
        latency_ms=speeds.get("latency_ms_batch1"),
        latency_range=tuple(speeds["latency_ms_batch1_range"]) if speeds.get("latency_ms_batch1_range") else None,
        throughput=speeds.get("samples_per_second"),
        throughput_range=tuple(speeds["samples_per_second_range"]) if speeds.get("samples_per_second_range") else None,
        speed_key=speeds.get("speed_key"),
        shape=shape_text(sizes.shape),
    )
    fields.update(own)
    row = Row(**fields)
    if row.bytes is None and row.output and not row.measures and Path(row.output).is_dir():
        from lamina.eval.timing import weights_size_bytes

        row.bytes = weights_size_bytes(row.output) or None
    return row


def fill_speedups(rows: list[Row]) -> None:
    """Speed-ups are relative to the deepest model in the report. Speed belongs to the shape,
    not the weights: every row of one shape (full depth → layers, parameters) gets one figure,
    the median of the speed-ups ``lamina prune`` measured for that shape, with the range of
    all of them. A row with no pruning in its lineage (a fine-tuned full model, a distilled
    student built from first-N layers) takes 1.0 at full depth, else the figure for the same
    (full depth → layers) elsewhere in the report (same architecture assumed)."""
    depths = [r.full_layers for r in rows if r.full_layers is not None]
    if not depths:
        return
    full = max(depths)
    by_shape: dict[tuple, list[Row]] = {}
    by_depth: dict[tuple, list[Row]] = {}
    for r in rows:
        if r.speedup is not None:
            by_shape.setdefault((r.full_layers, r.layers, r.parameters), []).append(r)
            by_depth.setdefault((r.full_layers, r.layers), []).append(r)

    def pooled(measured: list[Row]) -> tuple[float, tuple | None]:
        ranges = [m.speedup_range for m in measured if m.speedup_range]
        spread = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None
        return statistics.median(m.speedup for m in measured), spread

    shared = {k: pooled(v) for k, v in by_shape.items()}
    # the full model's width: a row of full depth but another width (a width-pruned model) is not 1.0x
    full_shapes = {r.shape for r in rows if r.layers == full and r.layers == r.full_layers and r.shape}
    widest = max(full_shapes, key=lambda t: [int(x) for x in t.split("×")]) if full_shapes else None
    for r in rows:
        if r.layers is None or r.backend != "torch":
            continue  # an exported model's speed is its own backend's (see fill_latencies)
        key = (r.full_layers, r.layers, r.parameters)
        narrower = r.shape is not None and widest is not None and r.shape != widest
        if key in shared:
            r.speedup, r.speedup_range = shared[key]
        elif r.speedup is None:
            if r.layers == full and not narrower:
                r.speedup = 1.0
            elif (full, r.layers) in by_depth and not narrower:
                r.speedup, r.speedup_range = pooled(by_depth[(full, r.layers)])


def fill_speedups_from_throughput(rows: list[Row]) -> None:
    """A row with no speed-up from a pruning (a width-pruned model, a student cut from its teacher) but a
    measured PyTorch throughput takes throughput / the full model's throughput, measured the same way
    (same backend, same speed settings in ``lamina eval``): the deepest, widest shape with a throughput."""
    timed = [r for r in rows if r.backend == "torch" and r.throughput and r.layers is not None]
    if not timed:
        return

    def size(r: Row):
        return (r.layers, [int(x) for x in r.shape.split("×")] if r.shape else [], r.parameters or 0)

    full = max(timed, key=size)
    for r in rows:
        if r.speedup is None and r.backend == "torch" and r.throughput:
            r.speedup = r.throughput / full.throughput


def _same_folder(a: str | None, b: str | None) -> bool:
    import os

    return bool(a and b) and os.path.normpath(os.path.abspath(a)) == os.path.normpath(os.path.abspath(b))


def fill_latencies(rows: list[Row]) -> None:
    """Latency and throughput are properties of the shape and the backend: measured rows (eval
    records) with the same speed key are pooled into one figure (median of their medians, range
    over all their repeats). A row without a measurement takes the one of an eval of its own
    output folder, else that of a measured row of the same backend, depth and parameters."""
    measured = [r for r in rows if r.latency_ms is not None or r.throughput is not None]
    groups: dict[str, list[Row]] = {}
    for r in measured:
        groups.setdefault(r.speed_key or f"row:{r.run}", []).append(r)
    for members in groups.values():
        lat = [m.latency_ms for m in members if m.latency_ms is not None]
        thr = [m.throughput for m in members if m.throughput is not None]
        lat_ranges = [m.latency_range for m in members if m.latency_range]
        thr_ranges = [m.throughput_range for m in members if m.throughput_range]
        for m in members:
            m.latency_ms = statistics.median(lat) if lat else None
            m.latency_range = (min(r[0] for r in lat_ranges), max(r[1] for r in lat_ranges)) if lat_ranges else None
            m.throughput = statistics.median(thr) if thr else None
            m.throughput_range = (min(r[0] for r in thr_ranges), max(r[1] for r in thr_ranges)) if thr_ranges else None
    evals = [r for r in measured if r.measures]
    for r in rows:
        if r in measured:
            continue
        source = next((e for e in evals if _same_folder(e.record.get("model"), r.output)), None)
        if source is None:
            source = next(
                (
                    m
                    for m in measured
                    if m.backend == r.backend
                    and m.layers == r.layers
                    and m.parameters == r.parameters
                    and r.layers is not None
                ),
                None,
            )
        if source is not None:
            r.latency_ms, r.latency_range = source.latency_ms, source.latency_range
            r.throughput, r.throughput_range = source.throughput, source.throughput_range
            r.speed_key = source.speed_key
            if r.bytes is None:
                r.bytes = source.bytes


def measures_another(row: Row, rows: list[Row]) -> bool:
    """An eval of a model that another row made (its score is that model's, measured again)."""
    return row.measures and any(o is not row and _same_folder(row.record.get("model"), o.output) for o in rows)


def load_rows(found) -> list[Row]:
    rows = [make_row(p, r) for p, r in found]
    fill_speedups(rows)
    fill_latencies(rows)
    fill_speedups_from_throughput(rows)
    return rows


# ---------------------------------------------------------------- groups over seeds


@dataclass
class Group:
    key: tuple
    rows: list[Row]

    @property
    def first(self) -> Row:
        return self.rows[0]

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.rows if r.score is not None]

    @property
    def mean(self) -> float | None:
        s = self.scores
        return statistics.fmean(s) if s else None

    @property
    def std(self) -> float | None:
        s = self.scores
        return statistics.stdev(s) if len(s) > 1 else None

    @property
    def speedup(self) -> float | None:
        s = [r.speedup for r in self.rows if r.speedup is not None]
        return statistics.median(s) if s else None


def group(rows: list[Row], key) -> list[Group]:
    """Rows grouped by ``key(row)``, in order of first appearance (seeds fold together)."""
    out: dict[tuple, Group] = {}
    for r in rows:
        k = key(r)
        out.setdefault(k, Group(k, [])).rows.append(r)
    return list(out.values())
