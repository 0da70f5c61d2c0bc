"""``outreach scoring check | explain | rescore``: the rules of scoring.yaml, a lead's score
with why, and scores computed again."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from worker.cli.common import out, print_json, runtime_of, settings_of, user_errors
from worker.cli.scoring import scoring
from worker.cli.scoring_view import print_score
from worker.errors import ConfigError


@scoring.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
@click.pass_context
@user_errors
def scoring_check(ctx: click.Context, as_json: bool) -> None:
    """Validate scoring.yaml and print its rules; exit 1 with every problem as path:line.

    \b
    Examples:
      outreach scoring check
      outreach scoring check --json
    """
    from worker.rehearsal.validation import scoring_problems
    from worker.scoring.config import load_scoring, scoring_path

    runtime = runtime_of(ctx)
    settings = settings_of(ctx)
    path = scoring_path(settings.home)
    problems = scoring_problems(settings, set(runtime.catalog.sequences))
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(str(problem), err=True)
    if errors:
        ctx.exit(1)
    loaded, _ = load_scoring(path, settings.home)
    if loaded is None:
        if as_json:
            print_json(None)
            return
        click.echo(f"no {path.name} in {settings.home}: scoring is off")
        return
    config = loaded.config
    if as_json:
        print_json(config.model_dump(mode="json", by_alias=True, exclude_none=True))
        return
    click.echo(f"{loaded.shown}: model {config.model}")
    click.echo("fit:")
    for fit in config.fit:
        click.echo(f"  {fit.points:+g}  {fit.label}")
    click.echo("engagement:")
    for rule in config.engagement:
        decay = f", half-life {rule.half_life_days:g} days" if rule.half_life_days else ""
        most = f", newest {rule.max} at most" if rule.max else ""
        click.echo(f"  {rule.points:+g}  {rule.label}{decay}{most}")
    for name, value in config.threshold_items():
        actions = ", ".join(config.on_cross.get(name, ())) or "-"
        click.echo(f"threshold {name}: {value:g} (on cross: {actions})")


@scoring.command("explain")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def scoring_explain(ctx: click.Context, email: str, as_json: bool) -> None:
    """Compute a lead's score now and show why: each rule with its points and age.

    Nothing is stored; 'outreach scoring rescore' stores scores.

    \b
    Examples:
      outreach scoring explain ada@northwind.test
      outreach scoring explain ada@northwind.test --json
    """
    from worker.queries.leads import find_lead
    from worker.scoring.config import scoring_config
    from worker.scoring.engine import explain_lead

    runtime = runtime_of(ctx)
    config, problems = scoring_config(runtime.settings.home)
    if config is None:
        reason = "is invalid — run 'outreach scoring check'" if problems else "is missing"
        raise ConfigError(f"scoring.yaml {reason}: there is no score to explain")
    with runtime.sessions() as session:
        lead = find_lead(session, email)
        score = explain_lead(session, runtime, config, lead, runtime.clock.now())
        data: dict[str, Any] = {
            "email": lead.email,
            "score": score.value,
            "fit": score.fit,
            "engagement": score.engagement,
            "qualification": lead.qualification,
            "scored_at": runtime.clock.now().isoformat(),
            "stored_score": lead.score,
            "score_detail": list(score.contributions),
        }
    if as_json:
        print_json(data)
        return
    out.print(
        f"[bold]{escape(data['email'])}[/]  fit {score.fit:g} + engagement {score.engagement:g}"
    )
    print_score(data)


@scoring.command("rescore")
@click.argument("emails", nargs=-1)
@click.option("--all", "everyone", is_flag=True, help="Every lead (in batches).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@user_errors
def scoring_rescore(
    ctx: click.Context, emails: tuple[str, ...], everyone: bool, as_json: bool
) -> None:
    """Compute and store scores: the marked leads (what the tick does), the leads named, or
    --all (after editing scoring.yaml or importing leads). Crossings happen once per lead.

    \b
    Examples:
      outreach scoring rescore
      outreach scoring rescore ada@northwind.test
      outreach scoring rescore --all
    """
    from worker.queries.leads import find_lead
    from worker.scoring.config import scoring_config
    from worker.scoring.engine import RescoreResult, rescore, rescore_all, score_marked

    runtime = runtime_of(ctx)
    config, problems = scoring_config(runtime.settings.home)
    if config is None:
        reason = "is invalid — run 'outreach scoring check'" if problems else "is missing"
        raise ConfigError(f"scoring.yaml {reason}: nothing to score with")
    if everyone:
        result = rescore_all(runtime)
    elif emails:
        with runtime.sessions.begin() as session:
            ids = [find_lead(session, email).id for email in emails]
            result = rescore(session, runtime, ids, runtime.clock.now(), config=config)
    else:
        result = score_marked(runtime, max_batches=None)
    assert isinstance(result, RescoreResult)
    crossed = [{"lead_id": lead, "threshold": name} for lead, name in result.crossed]
    if as_json:
        print_json({"scored": result.scored, "crossed": crossed})
        return
    click.echo(f"{result.scored} leads scored, {len(crossed)} thresholds crossed")


__all__ = ["scoring_check", "scoring_explain", "scoring_rescore"]
