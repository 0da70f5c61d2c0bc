"""Teaching the reply model: ``outreach replies train``, ``evaluate`` and ``export``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.table import Table

from worker.cli.common import out, print_json, runtime_of, settings_of, user_errors
from worker.cli.understanding import own_addresses, replies
from worker.errors import ConfigError


@replies.command("train")
@click.option(
    "--corpus",
    "extra",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="PATH",
    help="More labelled examples: a folder with labels.csv / labels.yaml (as `outreach replies "
    "export --labelled` writes it) or a .jsonl file of texts; repeatable.",
)
@click.option(
    "--no-shipped", is_flag=True, help="Train on --corpus only, without the shipped corpus."
)
@click.option(
    "--out",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the model (default: the packaged reply_model.npz).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the training figures as JSON.")
@click.pass_context
@user_errors
def replies_train(
    ctx: click.Context,
    extra: tuple[Path, ...],
    no_shipped: bool,
    target: Path | None,
    as_json: bool,
) -> None:
    """Train the reply model on the shipped corpus plus your team's labelled replies.

    Seeded and reproducible: the same examples give the same model. Prints the accuracy of
    five-fold cross-validation per intent and a reliability table (how often a reading of a
    given confidence was right). Needs scikit-learn: pip install 'outreach-worker[train]'.

    \b
    Examples:
      outreach replies train
      outreach replies export --labelled team-replies/
      outreach replies train --corpus team-replies/
    """
    try:
        from worker.understanding import training
    except ImportError as exc:
        raise ConfigError(
            f"training needs scikit-learn ({exc.name} is missing) — "
            "pip install 'outreach-worker[train]'."
        ) from None
    from worker.understanding.corpus import load_labelled
    from worker.understanding.learned import MODEL_FILE, save_model

    sources: list[tuple[Path, Path | None]] = []
    if not no_shipped:
        shipped = training.default_corpus(settings_of(ctx).home)
        if not shipped:
            raise ConfigError(
                "no shipped corpus under tests/corpus here — run from the project's folder, "
                "or give --corpus and --no-shipped."
            )
        sources += shipped
    sources += [(path, None) for path in extra]
    if not sources:
        raise ConfigError("nothing to train on — give --corpus PATH.")
    examples = [example for path, labels in sources for example in load_labelled(path, labels)]
    result = training.train(examples)
    path = target or MODEL_FILE
    save_model(result.model, path)
    figures = {
        "model": str(path),
        "examples": result.examples,
        "cv_accuracy": round(result.cv_accuracy, 4),
        "by_intent": {k: {"right": r, "total": t} for k, (r, t) in result.cv_by_intent.items()},
        "temperature": round(result.model.temperature, 4),
        "reliability": [
            {"from": lo, "to": hi, "n": n, "confidence": round(c, 3), "accuracy": round(a, 3)}
            for lo, hi, n, c, a in result.reliability
        ],
    }
    if as_json:
        print_json(figures)
        return
    out.print(f"trained on {result.examples} examples → {path}")
    out.print(f"cross-validated accuracy: {result.cv_accuracy:.1%}")
    _recall_table(result.cv_by_intent)
    _reliability_table(result.reliability)


def _recall_table(by_intent: dict[str, tuple[int, int]]) -> None:
    table = Table("intent", "right", "of", "recall")
    for intent, (right, total) in by_intent.items():
        table.add_row(intent, str(right), str(total), f"{right / total:.0%}" if total else "-")
    out.print(table)


def _reliability_table(rows: Sequence[tuple[float, float, int, float, float]]) -> None:
    table = Table("confidence", "replies", "mean confidence", "right")
    for low, high, n, confidence, accuracy in rows:
        table.add_row(f"{low:.1f}-{high:.1f}", str(n), f"{confidence:.2f}", f"{accuracy:.0%}")
    out.print(table)


@replies.command("evaluate")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The labels (file,intent[,return_date,referral_email] CSV or the corpus YAML); "
    "default: labels.csv or labels.yaml in FOLDER.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.pass_context
@user_errors
def replies_evaluate(ctx: click.Context, folder: Path, labels: Path | None, as_json: bool) -> None:
    """Measure the classifier on your own labelled mail: accuracy, confusion matrix, and the
    readings that would act wrongly (a false unsubscribe, bounce or "lost").

    \b
    Examples:
      outreach replies evaluate team-replies/
      outreach replies evaluate mail/ --labels labels.csv --json
    """
    from worker.understanding.scoring import score_labelled

    scores = score_labelled(folder, labels, own_addresses(ctx, ()), settings_of(ctx).min_confidence)
    if as_json:
        print_json(scores.as_json())
        return
    out.print(f"accuracy: {scores.right}/{scores.total} = {scores.accuracy:.1%}")
    _recall_table(scores.by_intent)
    said = sorted({s for _, s in scores.confusion})
    matrix = Table("truth \\ said", *said)
    for truth in scores.by_intent:
        matrix.add_row(truth, *(str(scores.confusion.get((truth, s), "") or "") for s in said))
    out.print(matrix)
    for action, files in scores.false_actions.items():
        out.print(f"false {action}: {len(files)}" + (f" ({', '.join(files)})" if files else ""))
    exact, dated = scores.dates
    exact_referrals, referred = scores.referrals
    out.print(
        f"return dates exact: {exact}/{dated}; referral addresses exact: "
        f"{exact_referrals}/{referred}"
    )


@replies.command("export")
@click.option(
    "--labelled",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write <id>.eml files and labels.csv into.",
)
@click.pass_context
@user_errors
def replies_export(ctx: click.Context, folder: Path) -> None:
    """Write every reply a rep labelled (a reclassification, or the intent a resolution
    implies) as .eml files with labels.csv, ready for `replies train --corpus` and `evaluate`.

    \b
    Examples:
      outreach replies export --labelled team-replies/
    """
    from worker.inbound.labels import export_labelled

    runtime = runtime_of(ctx)
    count = export_labelled(runtime.sessions, folder)
    click.echo(f"{count} labelled replies written to {folder}/ (labels.csv)")
