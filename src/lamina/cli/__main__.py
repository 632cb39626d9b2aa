"""``python -m lamina.cli`` (torchrun launches lamina this way)."""

from lamina.cli import main

main()
