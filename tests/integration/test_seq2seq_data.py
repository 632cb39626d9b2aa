"""The seq2seq readers on the real data: Multi30k De→En from LAMINA_DATA_DIR (counts and checksums in
../shared/data/MANIFEST.md; skipped without the folder) and the embedded BBC News articles → headlines."""

from __future__ import annotations

import pytest

from lamina.tasks import get_task

pytestmark = pytest.mark.integration


def test_multi30k_reads_every_aligned_pair_of_the_real_files(data_dir):
    data = get_task("multi30k").load(str(data_dir))
    assert {s: len(data[s]) for s in data} == {"train": 29_000, "dev": 1_014, "test": 1_000}
    assert data["train"][0] == {
        "source": "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
        "target": "Two young, White males are outside near many bushes.",
    }
    assert data["dev"][0] == {
        "source": "Eine Gruppe von Männern lädt Baumwolle auf einen Lastwagen",
        "target": "A group of men are loading cotton onto a truck",
    }
    assert data["dev"][-1]["target"] == "Two women wearing red and a man coming out of a port-a-potty."
    assert data["test"][0]["target"] == "A man in an orange hat starring at something."
    # German as German (UTF-8 decoded, umlauts and ß), English as English: the languages are not swapped
    assert sum("ä" in s or "ß" in s or "ü" in s for s in data["train"]["source"][:500]) > 50
    words = [
        (set(s.lower().split()), set(t.lower().split()))
        for s, t in zip(data["train"]["source"][:500], data["train"]["target"][:500])
    ]
    assert sum("ein" in s or "eine" in s for s, _ in words) > 300 and sum("a" in t for _, t in words) > 300
    assert sum("a" in s for s, _ in words) < 10 and sum("ein" in t or "eine" in t for _, t in words) == 0
    # the official splits share no sentence pair (one German caption recurs once between train and val)
    train = set(zip(data["train"]["source"], data["train"]["target"]))
    assert not train & set(zip(data["dev"]["source"], data["dev"]["target"]))
    assert not set(data["train"]["source"]) & set(data["test"]["source"])
    assert len(set(data["train"]["source"]) & set(data["dev"]["source"])) == 1


def test_bbc_headline_pairs_each_article_with_its_first_line_in_disjoint_splits():
    from lamina.data.bbc import bbc_articles

    data = get_task("bbc-headline").load(None)
    sizes = {s: len(data[s]) for s in data}
    assert sizes == {"train": 1_671, "dev": 209, "test": 209}  # 2,089 distinct article bodies of the 2,225
    assert sum(sizes.values()) < len(bbc_articles())  # the corpus' repeated articles are kept once
    first = data["dev"][0]  # the first article by sorted path (business/001.txt) is dev's first pair
    assert first["target"] == "Ad sales boost Time Warner profit"
    assert first["source"].startswith("Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn")
    assert data["test"][0]["target"] == "Dollar gains on Greenspan speech"
    for s in data:  # a headline is one short line
        assert all(0 < len(t.split()) <= 15 and "\n" not in t for t in data[s]["target"])
    sources = {s: set(data[s]["source"]) for s in data}
    assert not sources["train"] & sources["dev"] and not sources["train"] & sources["test"]
    assert not sources["dev"] & sources["test"]
