"""``outreach web``: serve the web app (reps' pages, unsubscribe, lead capture) with waitress."""

from __future__ import annotations

from typing import Any

import click

from worker.cli.common import runtime_of, user_errors
from worker.cli.root import main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=4, show_default=True, type=int, help="Request threads.")
@click.pass_context
@user_errors
def web(ctx: click.Context, host: str, port: int, threads: int) -> None:
    """Serve the web app: review queue, lead timelines, pipeline board and reports for
    signed-in reps (accounts: 'outreach reps add NAME'); the public unsubscribe pages (and
    RFC 8058 one-click), lead capture (/capture, /api/leads) and /healthz.

    OUTREACH_PUBLIC_URL must be the address people and mail providers reach this server at
    (behind a TLS proxy: https://…, which also makes the session cookie Secure): it is the
    base of every unsubscribe link. Behind N proxies set OUTREACH_WEB_PROXIES=N so rate
    limits see the client's address.

    \b
    Examples:
      outreach reps add rita
      outreach web
      outreach web --host 0.0.0.0 --port 8080
    """
    from worker.web import create_app, make_server

    runtime = runtime_of(ctx)
    app = create_app(runtime)
    try:
        server = make_server(app, host, port, threads=threads)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} — pick another --port "
            "or stop what is using it."
        ) from None
    click.echo(
        f"serving on http://{host}:{server.effective_port} — unsubscribe links point at "
        f"{runtime.settings.public_url}/u/… (OUTREACH_PUBLIC_URL)",
        err=True,
    )
    if not _has_reps(runtime):
        click.echo(
            "warning: no rep accounts yet, so nobody can sign in — add one with "
            "'outreach reps add NAME'",
            err=True,
        )
    try:
        server.run()
    except KeyboardInterrupt:  # pragma: no cover (Ctrl-C)
        pass
    finally:
        server.close()


def _has_reps(runtime: Any) -> bool:
    from worker.review.reps import rep_names

    with runtime.sessions() as session:
        return bool(rep_names(session))
