"""Pinned numerics: the first logged training losses of a tiny seeded ``finetune`` and of a
tiny seeded ``distill`` (kd + pkd + hidden_mse, a narrower student, so the width
projection is in play). The values were recorded on the code before the command/method
restructuring (commit c242f33) and must not drift: a refactor that changes the order of
random draws, the loss sum or the data order shows here first (torchtune pins its recipes
the same way).

Run through the CLI, so the test does not depend on where the workflows live.
"""

from __future__ import annotations

import json

import pytest
from conftest import STUDENT_CONFIG
from typer.testing import CliRunner

from lamina.cli import app

runner = CliRunner()


def _losses(out) -> list[float]:
    record = json.loads((out / "lamina_results.json").read_text())
    return [loss for _, loss in record["training"]["loss_curve"]]


def _run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_finetune_first_losses_are_pinned(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "ft"
    _run(
        "finetune",
        tiny_bert_with_tokenizer,
        "--task",
        "sst2",
        "-o",
        out,
        "--data-dir",
        sst_like,
        "--max-steps",
        6,
        "--batch-size",
        8,
        "--lr",
        1e-3,
        "--max-length",
        32,
        "--seed",
        7,
        "--logging-steps",
        1,
        "--eval-steps",
        3,
    )
    assert _losses(out) == pytest.approx(PINNED["finetune"], abs=1e-6)


def test_distill_first_losses_are_pinned(tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "kd"
    _run(
        "distill",
        "--teacher",
        tiny_teacher,
        "--task",
        "sst2",
        "-o",
        out,
        "--data-dir",
        sst_like,
        "--student-config",
        STUDENT_CONFIG,
        "--loss",
        "kd=1,pkd=10,hidden_mse=1",
        "--layer-map",
        "skip",
        "--max-steps",
        6,
        "--batch-size",
        8,
        "--lr",
        1e-3,
        "--max-length",
        32,
        "--seed",
        7,
        "--logging-steps",
        1,
        "--eval-steps",
        3,
        "--cache-dtype",
        "float32",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert _losses(out) == pytest.approx(PINNED["distill"], abs=1e-6)


# recorded at c242f33 through the Python API (finetune had no --logging-steps flag then)
PINNED = {
    "finetune": [
        0.6933218240737915,
        0.6951638460159302,
        0.6950895190238953,
        0.6942892074584961,
        0.6954871416091919,
        0.6926812529563904,
    ],
    "distill": [
        22.6585693359375,
        20.66472053527832,
        19.650440216064453,
        18.672510147094727,
        18.21466827392578,
        17.502517700195312,
    ],
}


# lifelong: a seeded run per way of making the new task's rows; recorded before lifelong became a package
LIFELONG_ARGS = [
    "--tasks",
    "copy,next",
    "--max-steps",
    "6",
    "--max-train-samples",
    "24",
    "--max-eval-samples",
    "16",
    "--pseudo-rate",
    "0.5",
    "--lr",
    "2e-2",
    "--batch-size",
    "8",
    "--max-length",
    "12",
    "--max-answer-tokens",
    "3",
    "--seed",
    "7",
    "--logging-steps",
    "1",
    "--no-progress",
]


def _lifelong_numbers(record) -> dict:
    """What a lifelong run computed: each stage's logged losses, scores and replay counts, and each
    teacher's logged losses and score."""
    stages = [
        {
            "losses": [loss for _, loss in s["training"]["loss_curve"]],
            "scores": s["scores"],
            "pseudo": {k: s["pseudo"][k] for k in ("kept", "why_dropped", "dropped_examples")}
            if "pseudo" in s
            else None,
            "examples": s["training"]["examples"],
        }
        for s in record["stages"]
    ]
    teachers = {
        t: {"losses": [loss for _, loss in i["training"]["loss_curve"]], "score": i["score"]}
        for t, i in sorted(record.get("teachers", {}).items())
    }
    return {"stages": stages, "teachers": teachers}


@pytest.mark.parametrize("method", ["lamol", "word-kd", "seq-kd-soft", "seq-kd"])
def test_lifelong_first_losses_are_pinned(lifelong_setup, tmp_path, method):
    folder, files = lifelong_setup
    out = tmp_path / method
    _run("lifelong", folder / "model", *files, *LIFELONG_ARGS, "--method", method, "-o", out)
    got = _lifelong_numbers(json.loads((out / "lamina_results.json").read_text()))
    want = PINNED_LIFELONG[method]
    assert [s["scores"] for s in got["stages"]] == [s["scores"] for s in want["stages"]]
    assert [(s["pseudo"], s["examples"]) for s in got["stages"]] == [
        (s["pseudo"], s["examples"]) for s in want["stages"]
    ]
    for g, w in zip(got["stages"], want["stages"], strict=True):
        assert g["losses"] == pytest.approx(w["losses"], abs=1e-6)
    assert list(got["teachers"]) == list(want["teachers"])
    for t, w in want["teachers"].items():
        assert got["teachers"][t]["losses"] == pytest.approx(w["losses"], abs=1e-6)
        assert got["teachers"][t]["score"] == w["score"]


# recorded at 6e49945 (lifelong.py one module), through the CLI
PINNED_LIFELONG = {
    "lamol": {
        "stages": [
            {
                "losses": [
                    7.149112701416016,
                    6.396757125854492,
                    4.989437580108643,
                    3.6035451889038086,
                    3.267608642578125,
                    3.497417688369751,
                ],
                "scores": {"copy": 0.0},
                "pseudo": None,
                "examples": 24,
            },
            {
                "losses": [
                    3.1542413234710693,
                    3.8688971996307373,
                    3.5311944484710693,
                    2.724874496459961,
                    2.6875228881835938,
                    2.828066825866699,
                ],
                "scores": {"copy": 0.0, "next": 0.0},
                "pseudo": {
                    "kept": 0,
                    "why_dropped": {"no end": 0, "separators": 12, "task token": 0, "empty answer": 0},
                    "dropped_examples": [" n j b</s>", "</s>", " j</s>"],
                },
                "examples": 24,
            },
        ],
        "teachers": {},
    },
    "word-kd": {
        "stages": [
            {
                "losses": [
                    2.4370293617248535,
                    2.299927234649658,
                    1.092031478881836,
                    0.28984686732292175,
                    0.23044735193252563,
                    0.1647915542125702,
                ],
                "scores": {"copy": 0.0},
                "pseudo": None,
                "examples": 24,
            },
            {
                "losses": [
                    0.38419198989868164,
                    0.9661341309547424,
                    0.5379934906959534,
                    0.20111361145973206,
                    0.08575347065925598,
                    0.047127045691013336,
                ],
                "scores": {"copy": 0.0, "next": 0.0},
                "pseudo": {
                    "kept": 0,
                    "why_dropped": {"no end": 1, "separators": 11, "task token": 0, "empty answer": 0},
                    "dropped_examples": [" n j b</s>", ">__ans__ b</s>", " j</s>"],
                },
                "examples": 24,
            },
        ],
        "teachers": {
            "copy": {
                "losses": [
                    7.149112701416016,
                    6.396757125854492,
                    4.989437580108643,
                    3.6035451889038086,
                    3.267608642578125,
                    3.497417688369751,
                ],
                "score": 0.0,
            },
            "next": {
                "losses": [
                    7.057920932769775,
                    7.1780104637146,
                    5.205890655517578,
                    3.587829828262329,
                    3.3041768074035645,
                    3.166166305541992,
                ],
                "score": 0.0,
            },
        },
    },
    "seq-kd-soft": {
        "stages": [
            {
                "losses": [
                    2.4236550331115723,
                    2.1849703788757324,
                    1.1293044090270996,
                    0.26360753178596497,
                    0.23938484489917755,
                    0.1756482571363449,
                ],
                "scores": {"copy": 0.0},
                "pseudo": None,
                "examples": 24,
            },
            {
                "losses": [
                    0.39756160974502563,
                    0.7421363592147827,
                    0.1917719841003418,
                    0.09671292454004288,
                    0.09185151755809784,
                    0.06784504652023315,
                ],
                "scores": {"copy": 0.0, "next": 0.0},
                "pseudo": {
                    "kept": 0,
                    "why_dropped": {"no end": 1, "separators": 11, "task token": 0, "empty answer": 0},
                    "dropped_examples": [" n j b</s>", ">__ans__ b</s>", " j</s>"],
                },
                "examples": 24,
            },
        ],
        "teachers": {
            "copy": {
                "losses": [
                    7.149112701416016,
                    6.396757125854492,
                    4.989437580108643,
                    3.6035451889038086,
                    3.267608642578125,
                    3.497417688369751,
                ],
                "score": 0.0,
            },
            "next": {
                "losses": [
                    7.057920932769775,
                    7.1780104637146,
                    5.205890655517578,
                    3.587829828262329,
                    3.3041768074035645,
                    3.166166305541992,
                ],
                "score": 0.0,
            },
        },
    },
    "seq-kd": {
        "stages": [
            {
                "losses": [
                    7.095768451690674,
                    5.340011119842529,
                    3.371617078781128,
                    1.9379231929779053,
                    1.4644931554794312,
                    1.2773644924163818,
                ],
                "scores": {"copy": 0.0},
                "pseudo": None,
                "examples": 24,
            },
            {
                "losses": [
                    1.2239861488342285,
                    1.0126978158950806,
                    0.7640185356140137,
                    1.0772371292114258,
                    0.9981110095977783,
                    0.9180609583854675,
                ],
                "scores": {"copy": 0.0, "next": 0.0},
                "pseudo": {
                    "kept": 0,
                    "why_dropped": {"no end": 0, "separators": 12, "task token": 0, "empty answer": 0},
                    "dropped_examples": [" n</s>", "</s>", " j</s>"],
                },
                "examples": 24,
            },
        ],
        "teachers": {
            "copy": {
                "losses": [
                    7.149112701416016,
                    6.396757125854492,
                    4.989437580108643,
                    3.6035451889038086,
                    3.267608642578125,
                    3.497417688369751,
                ],
                "score": 0.0,
            },
            "next": {
                "losses": [
                    7.057920932769775,
                    7.1780104637146,
                    5.205890655517578,
                    3.587829828262329,
                    3.3041768074035645,
                    3.166166305541992,
                ],
                "score": 0.0,
            },
        },
    },
}
