"""The one exception type lamina raises for bad input.

The CLI turns a :class:`LaminaError` into a single ``error: ...`` line on stderr and a
non-zero exit; library users can catch it like any other exception.
"""


class LaminaError(Exception):
    """Bad input or an impossible request, explained in one line."""
