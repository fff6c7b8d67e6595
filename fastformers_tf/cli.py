"""What every tool shares: a quiet start, flags validated where they are defined, one-line errors.

A tool is `cli.run(main)` over absl flags. Flag values out of range are
refused by absl's bounds before `main` runs (naming the flag); errors a user
causes (`UserError`, a bad value, a missing or unreadable file) end in one
`error: ...` line and exit 1 (2 for a command line refused as such: absl's
bounds, enums and required flags, `app.UsageError`), with the traceback only
under `--debug`. TensorFlow's start-up lines show only with `--verbosity=1`
or `--debug`. Tools import TensorFlow-backed modules inside `main`, after this
has run.
"""

import functools
import sys

from absl import app, flags

from fastformers_tf import logs
from fastformers_tf.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_boolean("debug", False, "Show Python tracebacks and the libraries' own log lines.")

# Errors a user can cause and fix; anything else is a bug and keeps its traceback.
USER_ERRORS = (UserError, ValueError, OSError)


def one_line(error):
    """The message of `error` on one line; a system error reads `path: reason`."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    text = str(error) or type(error).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail(message, code):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def _main(main, argv):
    logs.quiet(not (FLAGS.debug or FLAGS.verbosity > 0))
    try:
        return main(argv)
    except app.UsageError as e:
        if FLAGS.debug:
            raise
        _fail(one_line(e), 2)
    except KeyboardInterrupt:
        if FLAGS.debug:
            raise
        _fail("interrupted", 130)
    except USER_ERRORS as e:
        if FLAGS.debug:
            raise
        _fail(one_line(e) + " (--debug shows the traceback)", 1)


def run(main, pass_unknown_flags=False):
    """`absl.app.run(main)` with quiet start-up and one-line errors.

    With `pass_unknown_flags`, flags this tool does not define reach `main` in
    `argv` (e.g. Beam's pipeline options) instead of being refused.
    """
    app.run(functools.partial(_main, main), flags_parser=functools.partial(_parse, known_only=pass_unknown_flags))


def _parse(argv, known_only):
    """absl's flag parsing, its errors (bounds, enums, required flags) one line and exit 2 like every usage error."""
    try:
        return FLAGS(argv, known_only=known_only)
    except flags.Error as e:
        _fail(one_line(e), 2)


# === Shared flags ===


_OUTPUT_FLAG = ["output_dir"]  # the flag that sets the recipe's output_dir (compress.py: --workdir)


def define_recipe_flags(stage, output_flag="output_dir", output_help="Where to write the run (default runs/<task>)."):
    """The flags of every tool that runs a recipe: task, folders, config file, preset, dotted overrides."""
    flags.DEFINE_string("task", None, "Task name, e.g. rte, cb, sst2.", required=True)
    flags.DEFINE_string(output_flag, None, output_help)
    _OUTPUT_FLAG[0] = output_flag
    flags.DEFINE_string("data_dir", None, "Data directory (default ../shared/data).")
    flags.DEFINE_string("config_file", None, "A YAML recipe applied after configs/<task>.yaml and the preset.")
    flags.DEFINE_string("preset", None, "A recipe of configs/presets/ applied after configs/<task>.yaml, e.g. quick.")
    define_overrides_flag(f"{stage}.epochs=2,{stage}.learning_rate=1e-4,distill.keep_layers=[0,2]")


def recipe_from_flags(*keys):
    """The recipe the recipe flags name (`define_recipe_flags`), with `recipe_overrides(*keys)`; validated."""
    from fastformers_tf.recipe import load_recipe

    return load_recipe(FLAGS.task, FLAGS.config_file, recipe_overrides(*keys), preset=FLAGS.preset)


class OverridesParser(flags.ListParser):
    """Comma-separated `key=value` items; a comma inside brackets belongs to its value (`keep_layers=[0,2]`)."""

    def parse(self, argument):
        if isinstance(argument, list):
            return argument
        items, depth, start = [], 0, 0
        for i, char in enumerate(argument):
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
            if char == "," and depth == 0:
                items.append(argument[start:i])
                start = i + 1
        if depth != 0:
            raise ValueError(f"unbalanced brackets in {argument!r}")
        items.append(argument[start:])
        return [item.strip() for item in items if item.strip()]


def define_overrides_flag(example):
    """`--params_override`: dotted recipe overrides, applied last."""
    flags.DEFINE(
        OverridesParser(),
        "params_override",
        [],
        f"Dotted overrides, e.g. {example}.",
        serializer=flags.CsvListSerializer(","),
    )


def define_strategy_flag():
    """`--strategy`: the tf.distribute strategy a training tool runs under (the recipe's `strategy`)."""
    from fastformers_tf.recipe import STRATEGIES

    flags.DEFINE_enum(
        "strategy",
        None,
        STRATEGIES,
        "tf.distribute: default (one device), mirrored (this machine's GPUs), multi_worker (the cluster in "
        "TF_CONFIG; run the same command on every worker). Batch sizes are global.",
    )


def recipe_overrides(*keys):
    """`--params_override`, then `key=value` for each dotted recipe key whose flag (its last part) is set."""
    overrides = list(FLAGS.params_override)
    for key, flag in (("output_dir", _OUTPUT_FLAG[0]), *((key, key.rsplit(".", 1)[-1]) for key in ("data_dir", *keys))):
        value = FLAGS[flag].value
        if value is not None:
            overrides.append(f"{key}={value}")
    return overrides


def define_predictor_flags(batch_size=32):
    """The flags of every tool that serves a model: backend, precision, instances, threads, sizes."""
    from fastformers_tf.runtime.load import BACKENDS, PRECISIONS

    flags.DEFINE_enum("backend", "auto", ["auto", *BACKENDS], "auto: from the file suffix or export.json, else keras.")
    flags.DEFINE_enum(
        "precision",
        None,
        PRECISIONS,
        "Which file of an export directory to run (default: the one it names to serve, else fp32).",
    )
    flags.DEFINE_integer(
        "instances", 1, "Worker processes, each with its own session pinned to its own cores.", lower_bound=1
    )
    flags.DEFINE_integer(
        "threads", None, "Threads per session (default: the backend's, or cores / instances).", lower_bound=1
    )
    flags.DEFINE_integer("batch_size", batch_size, "Texts per forward pass.", lower_bound=1)
    flags.DEFINE_integer(
        "max_length", None, "Tokens kept per text (default: 128, or the model's limit when lower).", lower_bound=1
    )
