"""``lamina serve``: a FastAPI app that shows each loaded model's prediction for a text, side by
side (a static page with no external assets, and a JSON API)."""
