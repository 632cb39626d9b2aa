"""Distillation methods: registered :class:`~lamina.distillation.trainer.DistillationTrainer` subclasses.

``lamina distill --method NAME`` (default ``standard``) trains with the method registered
under NAME. A method is one file in this package (the registry imports every module of it),
or a class registered from your own code:

.. code-block:: python

    from lamina.distillation.methods import register_method
    from lamina.distillation.trainer import DistillationTrainer

    @register_method("my-method")
    class MyMethod(DistillationTrainer):
        \"\"\"One line saying what it does.\"\"\"

        trains_teachers = True            # the teachers go inside the trained module
        cache_off_reason = "the teacher changes while it trains"

        def training_step(self, model, inputs, num_items_in_batch=None):
            ...                           # HF Trainer's training step, as TRL's methods do

A method may declare its settings as a pydantic ``Options`` model (given as
``--method-option NAME=VALUE`` or ``method_options:`` in a file or recipe), refuse
settings it cannot run with in ``check(cfg, task)``, hold the teachers its own way in
``setup_teachers`` / ``teacher_forward``, and override any HF Trainer hook.
"""

from __future__ import annotations

from lamina.registry import Registry

METHODS = Registry("distillation method", package="lamina.distillation.methods")
register_method = METHODS.register


def get_method(name: str):
    return METHODS.get(name)


__all__ = ["METHODS", "get_method", "register_method"]
