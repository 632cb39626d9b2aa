"""``onnx-int8``: the fp32 ONNX graph through ONNX Runtime's dynamic quantisation (int8 weights per
output channel, embeddings included, activations quantised on the fly): ~4x smaller."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lamina.models import export as ex
from lamina.models.formats.base import register_format
from lamina.models.formats.onnx import Onnx


@register_format("onnx-int8")
class OnnxInt8(Onnx):
    summary = "ONNX Runtime dynamic int8"
    card = "ONNX with int8 weights (ONNX Runtime dynamic quantisation, per channel, opset {opset})"
    files = ()  # a model.onnx without a results record is read as fp32 onnx
    parity_rule = "agreement"

    def export(self, model, tokenizer, folder: Path, texts: list[str], max_length: int):
        with tempfile.TemporaryDirectory() as work:
            fp32 = Path(work) / ex.ONNX_FILE
            names = ex.export_onnx(model, tokenizer, fp32, texts, max_length=max_length)
            ex.quantize_onnx(fp32, Path(folder) / ex.ONNX_FILE)
        return self.load(folder, model.config), names
