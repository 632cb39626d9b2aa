"""Export formats of ``lamina export``: one :class:`ExportFormat` per file of this folder.

``onnx.py`` (fp32 ONNX), ``onnx_int8.py`` (ONNX Runtime dynamic int8) and ``torch_int8.py``
(PyTorch dynamic int8). A format knows its name, whether this install can make it
(``available``), how to write a classifier into a folder (``export``), how to read the folder
back (``load``: what ``lamina eval`` and ``lamina serve`` run), the backend that runs it
(``eval --backend``), its parity rule and what its model card says. The machinery they share
(the ONNX exporter, ``OnnxModel``, the int8 state dict, the parity check) is
:mod:`lamina.models.export`. A new format is one new file here with a
``@register_format("name")`` class; ``lamina export --format`` takes it with no other edit.
"""

from lamina.models.formats.base import EXPORT_FORMATS, ExportFormat, backends, get_format, register_format

__all__ = ["EXPORT_FORMATS", "ExportFormat", "backends", "get_format", "register_format"]
