"""``lamina compress``'s parts, one idea each (the command itself, which calls prune's student
builder, distill, export and the scorer, is :mod:`lamina.workflows.compress`):

- :mod:`lamina.compression.shapes`: the budget, the grid of shapes an architecture can express
  (depth × FFN × heads/hidden), the cost proxy that picks which of them are timed;
- :mod:`lamina.compression.speed`: a shape's speed and size on the shipped backend, measured once
  per shape on a model of that shape (its weights do not matter);
- :mod:`lamina.compression.probe`: the cheap ranking, the heal loss of an un-healed student against
  the teacher on a few training examples;
- :mod:`lamina.compression.report`: the candidates' table, the Pareto plot and the model card;
- :mod:`lamina.compression.progress`: phase, candidate and time left (terminal and ``progress.json``).
"""
