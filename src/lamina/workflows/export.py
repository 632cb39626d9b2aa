"""``lamina export``: a classifier in a deployment format (ONNX, ONNX Runtime int8, PyTorch int8:
the registry :mod:`lamina.models.formats`, one file each), checked against PyTorch on real text
by the format's parity rule before the folder is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator

from lamina.config import setting
from lamina.results import RecordPart
from lamina.training.settings import DataSettings, OutputSettings
from lamina.workflows import RunContext, Workflow, register_workflow
from lamina.workflows.prune import ModelSettings


def _formats_help() -> str:
    from lamina.models.formats import EXPORT_FORMATS

    named = [f"{n} ({EXPORT_FORMATS.get(n).summary})" for n in EXPORT_FORMATS.names()]
    return (", ".join(named[:-1]) + " or " + named[-1] if len(named) > 1 else "".join(named)) + "."


class ExportConfig(ModelSettings, DataSettings, OutputSettings):
    format: str = setting("onnx-int8", _formats_help())
    task: str | None = setting(
        None,
        "Also score the exported model and the PyTorch one on this task's dev set "
        "(a GLUE name or bbc-news) and record the change.",
        flag="-t",
    )
    parity_data: str | None = setting(
        None,
        "Text the parity check runs on: a .txt/.tsv/.csv/.jsonl file, a GLUE task name, or bbc-news "
        "(default: --task's training text, else bbc-news).",
    )
    parity_samples: int = setting(128, "Texts the parity check compares (sampled with seed 0).", ge=1)
    max_length: int = setting(128, "Tokens per text in the parity check and the dev scoring.", ge=2)
    max_samples: int | None = setting(None, "Score a seeded subset of the dev set (with --task).", ge=1)
    batch_size: int = setting(64, "Batch size of the dev scoring.", ge=1)
    seed: int = setting(42, "Seed of the dev subset.")
    max_diff: float = setting(1e-4, "fp32 ONNX: the largest allowed |logit difference| against PyTorch.", gt=0)
    min_agreement: float = setting(0.99, "int8: the smallest allowed argmax agreement with fp32 PyTorch.", ge=0, le=1)
    # not calibration (the int8 formats quantise dynamically): the text of the parity check, unlike
    # prune's and inspect's --calib-data
    renamed = {"calib_data": "parity_data", "calib_samples": "parity_samples"}

    @field_validator("format")
    @classmethod
    def _known_format(cls, value):
        from lamina.models.formats import EXPORT_FORMATS

        if value not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format '{value}'; available: {', '.join(EXPORT_FORMATS.names())}")
        return value

    @field_validator("task")
    @classmethod
    def _known_task(cls, value):
        if value is not None:
            from lamina.tasks import TASKS

            TASKS.get(value)
        return value


class ExportSection(RecordPart):
    """``record["export"]``: the format, its inputs, the parity check and the change in scores."""

    format: str
    inputs: list[str]
    opset: int | None = None
    parity: dict[str, Any]  # the format's parity figures (lamina.models.export.parity) and their text source
    source_path: str
    reference_metrics: dict[str, float | None] | None = None  # the PyTorch model's (with --task)
    metric_change: dict[str, float | None] | None = None


@register_workflow("export")
class Export(Workflow):
    """Export a classifier for deployment (onnx, onnx-int8, torch-int8, ...: --format): parity with PyTorch on
    real text (fp32 logits within --max-diff; int8 argmax agreement at least --min-agreement), and with --task
    the dev score before and after. The folder holds the model, config, tokenizer, card and results record."""

    Config = ExportConfig
    Section = ExportSection
    arguments = ("model",)

    def run(self, cfg: ExportConfig, ctx: RunContext) -> dict:
        return run_export(cfg, log=ctx.log)

    def show(self, record, cfg, echo) -> None:
        from lamina.eval.metrics import scores_text
        from lamina.models.formats import get_format

        p = record["export"]["parity"]
        check = get_format(record["export"]["format"]).parity_text(p)
        echo(
            f"{record['export']['format']}: {check} on {p['texts']} texts; "
            f"{record['sizes']['bytes'] / 1e6:.1f} MB (PyTorch fp32 {record['sizes']['bytes_before'] / 1e6:.1f} MB)"
        )
        if record.get("metrics"):
            echo(
                f"{record['task']} dev: {scores_text(record['metrics'])} "
                f"(PyTorch fp32: {scores_text(record['export']['reference_metrics'])})"
            )
        echo(f"saved to {cfg.output} (model card: {cfg.output}/README.md)")

    def exported_format(self, record: dict) -> str | None:
        return (record.get("export") or {}).get("format")

    def report_row(self, record: dict) -> dict:
        # the exported model runs on its format's backend (its speed is that backend's, not PyTorch's)
        fmt = (record.get("export") or {}).get("format")
        return {"backend": fmt} if fmt else {}

    def card(self, folder, record: dict, *, name: str, **context) -> list[str]:
        """The model card of an exported model (``lamina export``): format, parity, sizes, scores, how to run it."""
        from lamina.eval.metrics import is_fraction
        from lamina.models.card import fmt_params, provenance
        from lamina.models.formats import get_format

        ex, sizes = record["export"], record["sizes"]
        fmt, p = ex["format"], ex["parity"]
        form = get_format(fmt)
        lines = [
            "---",
            "tags:",
            "- lamina",
            f"- {fmt}",
            "---",
            "",
            f"# {name}",
            "",
            f"`{record['model']}` exported for deployment by lamina (`lamina export --format {fmt}`): "
            + form.card.format(opset=ex.get("opset"))
            + ".",
            "",
            "## Checks at export",
            "",
            f"- **Parity on real text** ({p['texts']} texts from `{p['source']}`, {p['rows_compared']} rows incl. a batch "
            f"of 1 and one of 7): max |logit difference| vs PyTorch fp32 {p['max_abs_diff']:.2e}, argmax agreement "
            f"{100 * p['argmax_agreement']:.2f}%",
            f"- **Size on disk:** {sizes['bytes'] / 1e6:.1f} MB (PyTorch fp32: {sizes['bytes_before'] / 1e6:.1f} MB)",
            f"- **Parameters of the source:** {fmt_params(sizes['parameters'])}",
        ]
        if record.get("metrics"):
            ref = ex["reference_metrics"]
            lines += [
                "",
                f"## Scores ({record['task']} dev)",
                "",
                "| metric | PyTorch fp32 | exported | change |",
                "|---|---:|---:|---:|",
            ]
            for k, v in record["metrics"].items():
                scale = 100 if is_fraction(k, v) else 1
                lines.append(f"| {k} | {scale * ref[k]:.2f} | {scale * v:.2f} | {scale * (v - ref[k]):+.2f} |")
            lines.append("")
        lines += [*provenance(record), "## Use", "", *form.usage(name, record)]
        return lines


def _texts(cfg: ExportConfig) -> tuple[list[str], str]:
    from lamina.data.calibration import load_calibration_texts
    from lamina.data.glue import GLUE_FORMATS

    source = cfg.parity_data
    if source is None:
        source = cfg.task if cfg.task in GLUE_FORMATS or cfg.task == "bbc-news" else "bbc-news"
    texts = load_calibration_texts(source, data_dir=cfg.data_dir, samples=cfg.parity_samples)
    return [t[0] if len(t) == 1 else t[0] + " " + t[1] for t in texts], source


def run_export(cfg: ExportConfig, log=print) -> dict:

    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count, weights_size_bytes
    from lamina.io import atomic_output_dir, check_output_dir
    from lamina.models import export as ex
    from lamina.models.card import write_card
    from lamina.models.formats import get_format
    from lamina.models.loading import load_model, resolve_model
    from lamina.results import RESULTS_FILE, finish_record, new_record, write_record

    check_output_dir(cfg.output, overwrite=cfg.overwrite)
    source = resolve_model(cfg.model)
    fmt = ex.exported_format(source)
    if fmt:
        raise LaminaError(f"'{cfg.model}' is already an export ({fmt}); export the PyTorch model it came from")
    form = get_format(cfg.format)
    unavailable = form.available()
    if unavailable:
        raise LaminaError(unavailable)
    record = new_record("export", model=cfg.model, task=cfg.task, config=cfg.model_dump())
    model, tokenizer, source = load_model(cfg.model)
    ex.check_exportable(model, cfg.model)
    if tokenizer is None:
        raise LaminaError(f"'{cfg.model}' has no tokenizer files: an export needs one to read text")
    texts, parity_source = _texts(cfg)
    from lamina.models.width import model_shape

    record["sizes"] = {
        "layers": getattr(model.config, "num_hidden_layers", None),
        "parameters": parameter_count(model),
        "bytes_before": weights_size_bytes(source),
        "shape": model_shape(model),
    }
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        exported, names = form.export(model, tokenizer, tmp, texts, cfg.max_length)
        # every setting written out (id2label included even when it is the default LABEL_i)
        model.config.to_json_file(tmp / "config.json", use_diff=False)
        tokenizer.save_pretrained(tmp)
        p = ex.parity(model, exported, tokenizer, texts, max_length=cfg.max_length)
        p["source"] = parity_source
        record["export"] = {
            "format": form.name,
            "inputs": names,
            "opset": form.opset,
            "parity": p,
            "source_path": source,
        }
        failure = form.parity_failure(p, max_diff=cfg.max_diff, min_agreement=cfg.min_agreement)
        if failure:
            raise LaminaError(f"parity check failed: {failure}")
        if cfg.task:
            from lamina.tasks import get_task
            from lamina.tasks.objectives import ScoreSettings, objective_for

            task = get_task(cfg.task)
            settings = ScoreSettings(
                split="dev",
                data_dir=cfg.data_dir,
                max_samples=cfg.max_samples,
                seed=cfg.seed,
                max_length=cfg.max_length,
                batch_size=cfg.batch_size,
            )
            score = objective_for(task).scorer(task, tokenizer, settings, record)
            record["export"]["reference_metrics"] = score(model)
            record["metrics"] = score(exported)
            record["export"]["metric_change"] = {
                k: record["metrics"][k] - v for k, v in record["export"]["reference_metrics"].items()
            }
        record["sizes"]["bytes"] = weights_size_bytes(tmp)
        finish_record(record)
        write_card(tmp, record, name=Path(cfg.output).name)
        write_record(tmp / RESULTS_FILE, record)
    return record
