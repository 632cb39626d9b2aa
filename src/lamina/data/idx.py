"""The MNIST idx format (LeCun et al.; Fashion-MNIST uses it unchanged), plain or gzipped.

Header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then
one big-endian uint32 per dimension; the data follows. Images are magic 2051 (3 dimensions),
labels 2049 (1 dimension). A file with another magic number, a header cut short or fewer
data bytes than the header promises is refused with one line naming the file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from lamina.errors import LaminaError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
# the four files of an MNIST-format folder
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        raise LaminaError(f"{path} is truncated or not gzip data ({type(exc).__name__}: {exc})") from None


def read_idx(path: str | Path, *, magic: int | None = None) -> np.ndarray:
    """The array in an idx file (uint8); ``magic`` (2051 images, 2049 labels) is checked if given."""
    path = Path(path)
    if not path.is_file():
        raise LaminaError(f"idx file not found: {path}")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise LaminaError(f"{path} is truncated: {len(raw)} bytes, too short for an idx header")
    found = int.from_bytes(raw[:4], "big")
    ndim = raw[3]
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= ndim <= 4 or (magic is not None and found != magic):
        want = f"{magic} (0x{magic:08x})" if magic is not None else "0x000008NN (unsigned bytes, N dimensions)"
        raise LaminaError(
            f"{path}: wrong magic number {found} (0x{found:08x}), expected {want}: not an idx file of this kind"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise LaminaError(f"{path} is truncated: its header needs {header} bytes, the file has {len(raw)}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    size = int(np.prod(dims))
    if len(raw) - header < size:
        raise LaminaError(
            f"{path} is truncated: the header says {' x '.join(map(str, dims))} = {size:,} bytes of "
            f"data, the file holds {len(raw) - header:,}"
        )
    if len(raw) - header > size:
        raise LaminaError(f"{path} is corrupt: {len(raw) - header - size:,} bytes more than its header describes")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    raise LaminaError(
        f"{folder} has no {stem}.gz (an MNIST-format folder holds train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)"
    )


def read_mnist_folder(folder: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images N×rows×cols, labels N), "test": (...)}`` from an MNIST-format folder."""
    folder = Path(folder)
    out = {}
    for split, (images_stem, labels_stem) in FILES.items():
        images = read_idx(_find(folder, images_stem), magic=IMAGES_MAGIC)
        labels = read_idx(_find(folder, labels_stem), magic=LABELS_MAGIC)
        if len(images) != len(labels):
            raise LaminaError(f"{folder}: {split} has {len(images):,} images but {len(labels):,} labels")
        out[split] = (images, labels)
    return out
