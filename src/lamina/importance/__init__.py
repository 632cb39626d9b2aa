"""Importance criteria for width pruning: how much each FFN neuron, attention head and hidden channel matters.

A criterion is one file in this package with one ``@register_importance("name")`` class (the
registry imports every module of it): ``scores(model, batches)`` returns, for the model's
architecture (:class:`lamina.models.width.WidthSpec`), ``{"ffn": [layers × neurons],
"heads": [layers × query heads], "hidden": channels}`` (higher = keep).
"""

from lamina.importance.base import IMPORTANCE, Importance, get_importance, register_importance  # noqa: F401
from lamina.importance.narrow import narrow  # noqa: F401
