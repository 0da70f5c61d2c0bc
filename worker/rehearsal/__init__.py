"""Trying things before anything is sent for real: validate sequences and templates, preview a
touch, simulate the coming days, and the demo on simulated time with simulated replies.
"""

from __future__ import annotations

from worker.rehearsal.demo import run_demo
from worker.rehearsal.preview import preview_task, preview_touch, preview_variant
from worker.rehearsal.simulation import simulate
from worker.rehearsal.validation import validate

__all__ = ["preview_task", "preview_touch", "preview_variant", "run_demo", "simulate", "validate"]
