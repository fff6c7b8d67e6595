"""The one progress system: tqdm bars, drawn on a terminal and silent in a file or pipe.

Long loops (training steps, evaluation batches, importance scoring, benchmark
turns) show a bar; what a log needs (each evaluation, each stage) is printed
as one line by the loop itself.
"""

from tqdm.auto import tqdm


def bar(iterable=None, total=None, desc=None, quiet=False, **kwargs):
    """A tqdm bar over `iterable` (or `total` steps), drawn only when stderr is a terminal and not `quiet`."""
    return tqdm(iterable, total=total, desc=desc, disable=True if quiet else None, dynamic_ncols=True, **kwargs)
