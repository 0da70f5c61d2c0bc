"""``outreach scoring train``: learn the score from the team's won and lost leads."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, settings_of, user_errors
from worker.cli.scoring import scoring
from worker.errors import ConfigError


@scoring.command("train")
@click.option(
    "--min-leads",
    type=click.IntRange(min=2),
    default=50,
    show_default=True,
    help="Decided (won or lost) leads needed at least; 15 of each outcome are needed too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
@user_errors
def scoring_train(ctx: click.Context, min_leads: int, as_json: bool) -> None:
    """Learn a score from the leads your team won and lost, and say if it beats the rules.

    Each won or lost lead is read as it was before its decision (fit fields, replies, clicks,
    activities, calls, emails sent). The older 75 % of decisions train a logistic regression;
    the newest 25 % are held out and measure it: AUC with a 95 % interval, Brier score and a
    reliability table, lift of the top decile — beside the rules score of scoring.yaml on
    the same leads. Writes scoring_model.json in the project folder; use it with
    `model: learned` in scoring.yaml. Needs scikit-learn: pip install 'outreach-worker[train]'.

    \b
    Examples:
      outreach scoring train
      outreach scoring train --json
      outreach scoring train --min-leads 200
    """
    try:
        from worker.scoring import training
    except ImportError as exc:
        raise ConfigError(
            f"training needs scikit-learn ({exc.name} is missing) — "
            "pip install 'outreach-worker[train]'."
        ) from None
    from worker.scoring.learned import save_model

    runtime = runtime_of(ctx)
    home = settings_of(ctx).home
    with runtime.sessions() as session:
        result = training.train(session, home, now=runtime.clock.now(), min_leads=min_leads)
    path = save_model(result.model, home)
    figures = {"model": str(path), **result.figures()}
    if as_json:
        print_json(figures)
        return
    _print(figures)


def _print(figures: dict[str, Any]) -> None:
    counts, split = figures["counts"], figures["split"]
    out.print(
        f"trained on {counts['decided']} decided leads ({counts['won']} won, {counts['lost']} "
        f"lost) -> {figures['model']}"
    )
    held = (
        f"the newest decisions, from {split['held_out_from']}"
        if split["kind"] == "time"
        else f"stratified at random: {split['why']}"
    )
    out.print(f"held out: {counts['held_out']} leads ({held}); the saved model uses all")
    table = Table("score", "AUC", "95 % interval", "Brier", "top-decile lift")
    rows = [("learned", figures["metrics"]), ("rules", figures["rules"])]
    for name, found in rows:
        if found is None:
            continue
        low, high = found["auc_ci"]
        brier = "-" if found["brier"] is None else f"{found['brier']:.3f}"
        lift = f"{found['lift_top_decile']:.2f}x"
        table.add_row(name, f"{found['auc']:.3f}", f"{low:.3f}-{high:.3f}", brier, lift)
    out.print(table)
    if figures["rules"] is None:
        out.print(figures["rules_note"])
    calibration = Table("predicted", "leads", "mean predicted", "won")
    for row in figures["metrics"]["reliability"]:
        calibration.add_row(
            f"{row['from']:.1f}-{row['to']:.1f}",
            str(row["leads"]),
            f"{row['predicted']:.2f}",
            f"{row['won']:.2f}",
        )
    out.print(calibration)
    weights = Table("feature", "coefficient")
    for row in figures["weights"]:
        weights.add_row(row["feature"], f"{row['coefficient']:+.3f}")
    out.print(weights)
    out.print(figures["verdict"])


__all__ = ["scoring_train"]
