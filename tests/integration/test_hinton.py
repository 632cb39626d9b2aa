"""Hinton et al.'s MNIST setting in small: the idx reader, the MLP model, image tasks, and soft
targets against hard labels on scikit-learn's bundled digits."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
import transformers
from typer.testing import CliRunner

from lamina.cli import app
from lamina.data.idx import read_idx, read_mnist_folder
from lamina.errors import LaminaError

runner = CliRunner()


@pytest.fixture
def one_thread():
    """Tiny MLPs: one thread (on a shared, loaded CPU more threads only wait on each other)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def idx_bytes(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


def write_mnist_folder(folder, n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 50, (n, 28, 28))
        for i, y in enumerate(labels):  # a bright bar whose row says the class
            images[i, 2 + 2 * y, 4:24] = 255
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return folder


def test_idx_reader_reads_a_hand_made_file(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    (tmp_path / "i.idx").write_bytes(idx_bytes(images))
    (tmp_path / "i.idx.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("i.idx", "i.idx.gz"):
        got = read_idx(tmp_path / name, magic=2051)
        assert got.shape == (2, 3, 4) and got.dtype == np.uint8 and np.array_equal(got, images)
    labels = np.array([3, 1, 4])
    (tmp_path / "l.idx").write_bytes(idx_bytes(labels))
    assert read_idx(tmp_path / "l.idx", magic=2049).tolist() == [3, 1, 4]
    data = read_mnist_folder(write_mnist_folder(tmp_path / "m"))
    assert data["train"][0].shape == (40, 28, 28) and data["test"][1].tolist()[:3] == [0, 1, 2]


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda b: b"\x00\x00\x09\x03" + b[4:], "wrong magic number"),  # not unsigned bytes
        (lambda b: b[:-5], "truncated"),  # data cut short
        (lambda b: b[:9], "truncated"),  # header cut short
        (lambda b: b + b"\x00", "more than its header"),
    ],
)
def test_idx_reader_refuses_bad_files(tmp_path, mutate, needle):
    good = idx_bytes(np.zeros((2, 3, 4)))
    (tmp_path / "bad").write_bytes(mutate(good))
    with pytest.raises(LaminaError, match=needle):
        read_idx(tmp_path / "bad")
    (tmp_path / "labels-as-images").write_bytes(idx_bytes(np.zeros(5)))
    with pytest.raises(LaminaError, match="wrong magic number 2049"):
        read_idx(tmp_path / "labels-as-images", magic=2051)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(LaminaError, match="truncated"):
        read_idx(tmp_path / "cut.gz")


def test_a_bad_idx_folder_is_one_error_line_and_no_output(tmp_path):
    folder = write_mnist_folder(tmp_path / "mnist")
    raw = gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes())
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    out = tmp_path / "o"
    result = runner.invoke(app, ["finetune", "mlp:16", "--task", "mnist", "--data-dir", str(tmp_path), "-o", str(out)])
    assert result.exit_code == 2 and "truncated" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_shift_and_jitter():
    from lamina.tasks.objectives.images import ImageCollator, shift

    img = torch.zeros(5, 5)
    img[2, 2] = 1.0
    assert shift(img, 2, -1)[1, 4] == 1.0 and shift(img, 2, -1).sum() == 1.0
    assert shift(img, 3, 0).sum() == 0.0  # moved out of the frame
    collate = ImageCollator(5, jitter=2, seed=0)
    feats = [{"pixel_values": (img.flatten() * 255).numpy(), "labels": 1, "augment": a} for a in (1, 1, 1, 0)]
    batch = collate(feats * 4)
    moved = [not torch.equal(row, img.flatten()) for row in batch["pixel_values"]]
    assert any(moved[:3]) and not any(moved[3::4])  # training rows move, evaluation rows never
    assert batch["labels"].tolist() == [1] * 16


def test_mlp_on_an_idx_folder_saves_reloads_and_evaluates(tmp_path, one_thread):
    write_mnist_folder(tmp_path / "mnist")
    out = tmp_path / "teacher"
    result = runner.invoke(
        app,
        [
            "finetune",
            "mlp:32,32:dropout=0.1",
            "--task",
            "mnist",
            "--data-dir",
            str(tmp_path),
            "-o",
            str(out),
            "--epochs",
            "12",
            "--lr",
            "3e-3",
            "--batch-size",
            "10",
            "--jitter",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    rec = json.loads((out / "lamina_results.json").read_text())
    assert rec["metrics"]["accuracy"] >= 0.3 and rec["metrics"]["errors"] == round(
        20 * (1 - rec["metrics"]["accuracy"])
    )
    assert rec["training"]["jitter"] == 1 and rec["sizes"]["layers"] == 2
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    import lamina.models.mlp  # noqa: F401  (registers the model type with the Auto classes)

    model = transformers.AutoModelForImageClassification.from_pretrained(out)
    assert model.config.hidden_sizes == [32, 32] and model.config.dropout == 0.1
    result = runner.invoke(
        app,
        [
            "eval",
            str(out),
            "--task",
            "mnist",
            "--data-dir",
            str(tmp_path),
            "--no-speed",
            "--json",
            str(tmp_path / "ev.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev.json").read_text())["metrics"]["errors"] == rec["metrics"]["errors"]
    bad = runner.invoke(app, ["finetune", "mlp:16", "--task", "sst2", "--jitter", "2", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "jitter is an option of digits, fashion-mnist, mnist" in bad.output
    # Hinton's bias correction: raising one class's logit far enough makes every prediction that class
    result = runner.invoke(
        app,
        [
            "eval",
            str(out),
            "--task",
            "mnist",
            "--data-dir",
            str(tmp_path),
            "--no-speed",
            "--logit-bias",
            "0=1000",
            "--json",
            str(tmp_path / "biased.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    biased = json.loads((tmp_path / "biased.json").read_text())
    assert (
        biased["metrics"]["errors"] == 18 and biased["class_errors"]["0"] == 0 and biased["logit_bias"] == {"0": 1000.0}
    )
    assert sum(biased["class_errors"].values()) == biased["metrics"]["errors"]


def test_omit_label_leaves_a_class_out_of_training_only(tmp_path):
    from lamina.tasks import get_task

    write_mnist_folder(tmp_path / "mnist")
    data = get_task("mnist", omit_label=3).load(str(tmp_path))
    assert 3 not in data["train"]["label"] and len(data["train"]) == 36 and 3 in data["dev"]["label"]
    with pytest.raises(LaminaError, match="labels 0..9"):
        get_task("mnist", omit_label=12)


def test_soft_targets_beat_hard_labels_on_digits(tmp_path, one_thread):
    """The same student, the same 120 steps, seed and learning rate, on a 60-image transfer set:
    trained on a teacher's soft targets (T = 4, soft term × T²) it reaches a lower test loss than
    on the hard labels. (At T = 20 the student needs more steps than a unit test affords: on this
    budget it is behind both.)"""
    from lamina.workflows.distill import DistillConfig, run_distill
    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    common = dict(task="digits", eval_batch_size=400, seed=3, progress=False, warmup_ratio=0.0, logging_steps=20)
    teacher = run_finetune(
        FinetuneConfig(model="mlp:128,128", output=str(tmp_path / "t"), epochs=6, lr=3e-3, batch_size=32, **common)
    )
    assert teacher["metrics"]["accuracy"] > 0.9
    small = dict(max_train_samples=60, batch_size=10, epochs=20, lr=3e-3, **common)
    hard = run_finetune(FinetuneConfig(model="mlp:64,64", output=str(tmp_path / "hard"), **small))
    soft = run_distill(
        DistillConfig(
            teacher=[str(tmp_path / "t")],
            student_config="mlp:64,64",
            output=str(tmp_path / "soft"),
            loss="kd=1",
            temperature=4,
            **small,
        ),
        log=lambda *_: None,
    )
    assert soft["training"]["global_steps"] == hard["training"]["global_steps"] == 120
    assert soft["training"]["dev_loss"] < hard["training"]["dev_loss"]
    assert soft["distill"]["cache"].startswith("off: image task")


def test_distill_into_a_sparse_student_holds_the_mask(tmp_path, one_thread):
    """Tickets and distillation together: ``distill --mask`` trains a sparse student by KD and no
    pruned weight comes back; the MLP's blocks are prunable like a transformer's."""
    from lamina.models.mlp import new_mlp
    from lamina.models.sparsity import load_masks, magnitude_masks, prunable_parameters, save_masks
    from lamina.workflows.distill import DistillConfig, run_distill
    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    common = dict(task="digits", eval_batch_size=400, seed=1, progress=False, batch_size=64, lr=3e-3)
    run_finetune(FinetuneConfig(model="mlp:64,64", output=str(tmp_path / "t"), epochs=2, **common))
    student = new_mlp("mlp:32,32", input_size=64, num_labels=10)
    student.save_pretrained(tmp_path / "s0")
    masks = magnitude_masks(student, 0.5)
    assert set(masks) == {"layers.0.dense.weight", "layers.1.dense.weight"}  # never the classifier
    save_masks(tmp_path / "m.safetensors", masks)
    rec = run_distill(
        DistillConfig(
            teacher=[str(tmp_path / "t")],
            student=str(tmp_path / "s0"),
            output=str(tmp_path / "s"),
            mask=str(tmp_path / "m.safetensors"),
            epochs=2,
            loss="kd=1,ce=0.5",
            temperature=4,
            **common,
        ),
        log=lambda *_: None,
    )
    assert rec["mask"]["sparsity"] == pytest.approx(0.5)
    import lamina.models.mlp  # noqa: F401

    trained = transformers.AutoModelForImageClassification.from_pretrained(tmp_path / "s")
    params = prunable_parameters(trained)
    assert all(bool((params[k][~m] == 0).all()) for k, m in load_masks(tmp_path / "m.safetensors")[0].items())
    assert not torch.equal(
        params["layers.0.dense.weight"],
        prunable_parameters(student)["layers.0.dense.weight"] * masks["layers.0.dense.weight"],
    )
