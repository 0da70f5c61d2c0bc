"""Pipeline analytics from the event log: funnel, steps, A/B variants, pipeline value and
forecast, mailboxes. Queries live in ``queries``; everything else is pure arithmetic."""

from __future__ import annotations

from worker.analytics.report import build_report, compute_report
from worker.analytics.stats import sample_size_per_group, two_proportion_p_value

__all__ = ["build_report", "compute_report", "sample_size_per_group", "two_proportion_p_value"]
