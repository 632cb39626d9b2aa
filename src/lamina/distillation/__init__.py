"""Knowledge distillation: students from teachers, a teacher-output cache, and
DistillationTrainer on HF Trainer. Losses live in :mod:`lamina.losses`."""
