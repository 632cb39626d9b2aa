"""Label metrics of classifiers (scikit-learn, GLUE conventions): accuracy, F1, macro F1, MCC, errors."""

from __future__ import annotations

from lamina.eval.metrics import Metric, register_metric
from lamina.registry import lazy_import

np = lazy_import("numpy")
sk = lazy_import("sklearn.metrics")  # imported by the first score, not by the registry

register_metric(Metric("accuracy", lambda p, g: float(sk.accuracy_score(g, p)), description="share of labels right"))
register_metric(Metric("f1", lambda p, g: float(sk.f1_score(g, p, average="binary")), description="binary F1"))
register_metric(
    Metric("macro_f1", lambda p, g: float(sk.f1_score(g, p, average="macro")), description="F1 averaged over classes")
)
register_metric(Metric("mcc", lambda p, g: float(sk.matthews_corrcoef(g, p)), description="Matthews correlation"))
# misclassified examples (Hinton's table): a count, lower is better
register_metric(
    Metric(
        "errors",
        lambda p, g: float((np.asarray(p) != np.asarray(g)).sum()),
        higher_is_better=False,
        scale="value",
        description="misclassified examples",
    )
)
