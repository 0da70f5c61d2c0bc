"""The words pages show for stored codes: the label functions of ``worker.queries.labels``
as template filters (``{{ row.reason|reason_label }}``, ``{{ action|action_label }}``…)."""

from __future__ import annotations

from flask import Flask

from worker.queries.labels import FILTERS


def init_app(app: Flask) -> None:
    for name, label in FILTERS.items():
        app.add_template_filter(label, name)


__all__ = ["init_app"]
