"""The export-format registry and what a format answers (see :mod:`lamina.models.formats`)."""

from __future__ import annotations

from pathlib import Path

from lamina.registry import Registry

EXPORT_FORMATS = Registry("export format", package="lamina.models.formats")


class ExportFormat:
    """One deployment format. Subclasses set the class fields and ``export``/``load``."""

    name: str = ""  # set by @register_format
    summary: str = ""  # a few words for `--format`'s help: "fp32 ONNX"
    card: str = ""  # the card's description; ``{opset}`` is filled in
    backend: str = "torch"  # the `lamina eval --backend` that runs an export of this format
    label: str = ""  # what an export of it is called in errors: "ONNX"
    files: tuple[str, ...] = ()  # files in a folder that alone say it is this format (no results record)
    opset: int | None = None  # the ONNX opset, recorded (None: not an ONNX graph)
    parity_rule: str = "agreement"  # max_diff: fp32 logits within --max-diff; agreement: argmax ≥ --min-agreement

    def available(self) -> str | None:
        """Why this install cannot make the format (None when it can)."""
        return None

    def export(self, model, tokenizer, folder: Path, texts: list[str], max_length: int):
        """Write ``model`` into ``folder``; returns ``(exported, input_names)``: what the parity check
        runs (logits from a tokenized batch, like :func:`lamina.models.export.logits_of` reads) and
        the graph's or forward's input names."""
        raise NotImplementedError

    def load(self, folder: Path, config=None, *, threads: int | None = None):
        """The exported model in ``folder``, ready to score (``config``: the model's, if at hand)."""
        raise NotImplementedError

    def parity_failure(self, parity: dict, *, max_diff: float, min_agreement: float) -> str | None:
        """Why the parity check failed (None when it passed)."""
        if self.parity_rule == "max_diff":
            if parity["max_abs_diff"] > max_diff:
                return (
                    f"fp32 ONNX logits differ from PyTorch by {parity['max_abs_diff']:.2e} "
                    f"(> --max-diff {max_diff:g}) on {parity['texts']} texts"
                )
            return None
        if parity["argmax_agreement"] < min_agreement:
            return (
                f"{self.name} agrees with fp32 PyTorch on {100 * parity['argmax_agreement']:.2f}% of argmaxes "
                f"(< --min-agreement {100 * min_agreement:g}%) on {parity['texts']} texts"
            )
        return None

    def parity_text(self, parity: dict) -> str:
        """The parity result as `lamina export` prints it."""
        if self.parity_rule == "max_diff":
            return f"max |logit diff| {parity['max_abs_diff']:.2e}"
        return f"argmax agreement {100 * parity['argmax_agreement']:.2f}%"

    def usage(self, name: str, record: dict) -> list[str]:
        """The model card's "Use" section (Markdown lines) for an export in folder ``name``."""
        return [f"With lamina: `lamina eval {name} --backend {self.backend} --task TASK`, `lamina serve {name}`.", ""]


def register_format(name: str):
    """Class decorator: register an :class:`ExportFormat` subclass under ``name``."""
    return EXPORT_FORMATS.register(name)


def get_format(name: str) -> ExportFormat:
    """The format called ``name`` (one clear error naming the known ones otherwise)."""
    return EXPORT_FORMATS.get(name)()


def backends() -> list[str]:
    """The backends `lamina eval --backend` takes: torch, and each format's."""
    return sorted({"torch", *(EXPORT_FORMATS.get(n).backend for n in EXPORT_FORMATS.names())})
