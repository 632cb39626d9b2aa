"""``torch-int8``: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``, saved as plain
tensors (safetensors). That API is deprecated, so the format says when this torch lacks it."""

from __future__ import annotations

from pathlib import Path

from lamina.models import export as ex
from lamina.models.formats.base import ExportFormat, register_format


@register_format("torch-int8")
class TorchInt8(ExportFormat):
    summary = "PyTorch dynamic int8; deprecated API"
    card = "PyTorch with int8 nn.Linear weights (torch.ao dynamic quantisation, deprecated API)"
    backend = "torch"
    label = "PyTorch int8"
    files = (ex.TORCH_INT8_FILE, ex.OLD_TORCH_INT8_FILE)
    parity_rule = "agreement"

    def available(self) -> str | None:
        return ex.torch_int8_unavailable()

    def export(self, model, tokenizer, folder: Path, texts: list[str], max_length: int):
        exported = ex.quantize_torch(model)  # a quantised copy; ``model`` stays fp32
        ex.save_torch_int8(exported, Path(folder) / ex.TORCH_INT8_FILE)
        return exported, ex.input_names(model, tokenizer)

    def load(self, folder: Path, config=None, *, threads: int | None = None):
        return ex.load_torch_int8(folder)

    def usage(self, name: str, record: dict) -> list[str]:
        return [
            "With lamina (the int8 state dict needs the same quantised architecture):",
            "",
            "```bash",
            f"lamina eval {name} --task {record.get('task') or 'TASK'}",
            f"lamina serve {name}",
            "```",
            "",
        ]
