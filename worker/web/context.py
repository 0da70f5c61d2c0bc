"""What a request handler needs from the app: the runtime it serves."""

from __future__ import annotations

from flask import Flask, current_app

from worker.runtime import Runtime

_EXTENSION = "outreach"


def install_runtime(app: Flask, runtime: Runtime) -> None:
    app.extensions[_EXTENSION] = runtime


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    runtime: Runtime = current_app.extensions[_EXTENSION]
    return runtime
