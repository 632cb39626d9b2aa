"""Training workflows on HF Trainer: fine-tuning (distillation and pretraining build on it)."""
