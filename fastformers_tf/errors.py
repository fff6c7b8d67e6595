"""The base class of errors a user causes and can fix: a bad flag, file, row or argument.

Tools (`fastformers_tf.cli.run`) print such an error as one line and exit 1
(2 for a command line refused as such); anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """An error whose message names the flag, file, row or argument to fix."""


class ArgumentError(UserError, ValueError):
    """An argument or flag value out of its range (`check_positive`, ...)."""


def check_positive(name, value, allow_none=False):
    """Returns `value` if it is an int >= 1 (or None with `allow_none`); else `ArgumentError` naming `name`."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{name} must be an integer >= 1, got {value!r}.")
    return value
