"""``onnx``: fp32 ONNX through ``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch
and sequence axes); the folder runs with ``onnxruntime`` and ``tokenizers`` alone."""

from __future__ import annotations

from pathlib import Path

from lamina.models import export as ex
from lamina.models.formats.base import ExportFormat, register_format


@register_format("onnx")
class Onnx(ExportFormat):
    summary = "fp32 ONNX"
    card = "ONNX (fp32, opset {opset}, dynamic batch and sequence axes)"
    backend = "onnx"
    label = "ONNX"
    files = (ex.ONNX_FILE,)
    opset = ex.OPSET
    parity_rule = "max_diff"

    def export(self, model, tokenizer, folder: Path, texts: list[str], max_length: int):
        names = ex.export_onnx(model, tokenizer, Path(folder) / ex.ONNX_FILE, texts, max_length=max_length)
        return self.load(folder, model.config), names

    def load(self, folder: Path, config=None, *, threads: int | None = None):
        return ex.OnnxModel(folder, threads=threads, config=config, fmt=self.name)

    def usage(self, name: str, record: dict) -> list[str]:
        from lamina.models.card import onnx_usage

        return [
            "With `onnxruntime` and `tokenizers` alone (`pip install onnxruntime tokenizers`; no torch):",
            "",
            "```python",
            *onnx_usage(name, record["export"]["inputs"], record["config"].get("max_length", 128)),
            "```",
            "",
            *super().usage(name, record),
        ]
