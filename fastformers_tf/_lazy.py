"""Package attributes imported on first use (PEP 562).

`import fastformers_tf` must not import TensorFlow: the ONNX Runtime and LiteRT
predictors in `fastformers_tf.runtime` serve without it, and importing any
submodule runs the package `__init__` first. So the packages whose public names
live in TensorFlow modules resolve those names on first access instead.
"""

import importlib
import sys


def lazy_exports(package, exports):
    """`(__getattr__, __dir__)` for `package`, where `exports` maps a public name to its module.

    A module written "module:attribute" exports that attribute under the public name.
    """

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = exports[name].partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
