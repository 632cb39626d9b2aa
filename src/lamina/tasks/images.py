"""Image classification tasks for small MLPs (Hinton et al. 2015's MNIST experiment).

``mnist`` and ``fashion-mnist`` read an MNIST-format idx folder (:mod:`lamina.data.idx`):
``--data-dir`` itself, or its ``mnist/`` (``fashion-mnist/``) subfolder. No real MNIST is
available offline on this project's machines; Fashion-MNIST (same format, 28×28, 10
classes) is in the shared data folder. ``digits`` is scikit-learn's bundled 8×8 handwritten
digits (1,797 images; a fixed stratified 80/20 split, seed 42): always offline, for tests.

Splits are ``train`` and ``dev``; for the idx tasks ``dev`` is the official 10,000-image
test set (Hinton's table counts test errors), so the image objective never picks a
checkpoint by it: the last model is kept. Task options (``ImageOptions``): ``--task-option jitter=N``
shifts each training image by up to N pixels in each direction, drawn afresh every time it
is read; ``omit_label=K`` leaves class K out of the training (transfer) set only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from lamina.data.paths import data_dir as resolve_data_dir
from lamina.errors import LaminaError
from lamina.tasks.base import Task, TaskOptions, register_task


class ImageOptions(TaskOptions):
    jitter: int = Field(0, ge=0, description="Shift each training image by up to N pixels (drawn afresh each time).")
    omit_label: int | None = Field(None, ge=0, description="Leave this class out of the training (transfer) set.")


FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGITS = tuple(str(i) for i in range(10))


@dataclass
class ImageTask(Task):
    subfolder: str = ""
    side: int = 28
    jitter: int = 0
    omit_label: int | None = None
    max_pixel: float = 255.0

    @property
    def objective(self):
        from lamina.tasks.objectives.images import ImageClassification

        return ImageClassification

    @property
    def input_size(self) -> int:
        return self.side * self.side

    def folder(self, data_dir) -> Path:
        root = resolve_data_dir(data_dir)
        for candidate in (root, root / self.subfolder):
            if (candidate / "train-images-idx3-ubyte.gz").is_file() or (
                candidate / "train-images-idx3-ubyte"
            ).is_file():
                return candidate
        raise LaminaError(
            f"task '{self.name}': no MNIST-format files in {root} or {root / self.subfolder} "
            "(train-images-idx3-ubyte.gz, ...)"
        )

    def arrays(self, data_dir):
        from lamina.data.idx import read_mnist_folder

        data = read_mnist_folder(self.folder(data_dir))
        return {"train": data["train"], "dev": data["test"]}

    def load(self, data_dir: str | None = None):
        import datasets
        import numpy as np

        out = {}
        for split, (images, labels) in self.arrays(data_dir).items():
            images = images.reshape(len(images), -1)
            if images.shape[1] != self.input_size:
                raise LaminaError(f"task '{self.name}': images of {images.shape[1]} pixels, expected {self.input_size}")
            labels = labels.astype(np.int64)
            if labels.max() >= len(self.labels):
                raise LaminaError(f"task '{self.name}': label {labels.max()} outside 0..{len(self.labels) - 1}")
            if split == "train" and self.omit_label is not None:
                keep = labels != self.omit_label
                images, labels = images[keep], labels[keep]
            out[split] = datasets.Dataset.from_dict({"pixel_values": images, "label": labels})
        return datasets.DatasetDict(out)


@dataclass
class DigitsTask(ImageTask):
    def arrays(self, data_dir):
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        d = load_digits()
        images = np.round(d.images * (255 / 16)).astype(np.uint8)  # 0..16 → 0..255, as MNIST's bytes
        tr, dev = train_test_split(np.arange(len(images)), test_size=0.2, random_state=42, stratify=d.target)
        return {
            "train": (images[np.sort(tr)], d.target[np.sort(tr)]),
            "dev": (images[np.sort(dev)], d.target[np.sort(dev)]),
        }


def _factory(cls, name, labels, description, **fixed):
    def build(jitter: int = 0, omit_label: int | None = None):
        if omit_label is not None and not 0 <= omit_label < len(labels):
            raise LaminaError(f"--omit-label {omit_label}: task '{name}' has labels 0..{len(labels) - 1}")
        return cls(name, ("accuracy", "errors"), labels, description, jitter=jitter, omit_label=omit_label, **fixed)

    register_task(build, name=name, options=ImageOptions)


_factory(ImageTask, "mnist", DIGITS, "MNIST digits, 28x28 (idx folder; none offline here)", subfolder="mnist")
_factory(
    ImageTask,
    "fashion-mnist",
    FASHION,
    "Fashion-MNIST, 28x28, 10 clothing classes (idx folder)",
    subfolder="fashion-mnist",
)
_factory(DigitsTask, "digits", DIGITS, "scikit-learn's 8x8 digits (1,797 images, bundled)", side=8)
