"""Lead scoring: fit and engagement rules from ``scoring.yaml`` (or a model learned from the
team's wins), the score with why, and what happens when it crosses a threshold."""
