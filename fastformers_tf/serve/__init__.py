"""Serving an export over HTTP: micro-batching (`MicroBatcher`) and the Starlette app (`make_app`).

Imports no TensorFlow: the serving install (`./install.sh serve`) runs it.
"""
