"""Build the dramatiq broker explicitly: Redis when REDIS_URL is set, else an in-process stub.

Imported by ``worker.actors`` before any actor is declared, so dramatiq's implicit default
(a RabbitMQ broker on localhost) is never used.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from worker.settings import Settings

QUEUE = "outreach"


def _middleware() -> list[dramatiq.Middleware]:
    # Explicit list: no Prometheus exporter, and our own defaults for retries and age.
    return [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=3, min_backoff=5_000, max_backoff=300_000),
    ]


def build_broker(redis_url: str | None, namespace: str = "outreach") -> dramatiq.Broker:
    """A Redis broker for ``redis_url``, or an in-process stub broker when it is None."""
    if redis_url:
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(  # type: ignore[no-untyped-call]
            url=redis_url, namespace=namespace, middleware=_middleware()
        )
    return StubBroker(middleware=_middleware())


def install(broker: dramatiq.Broker) -> dramatiq.Broker:
    """Make ``broker`` the global broker and move every declared actor onto it."""
    previous = dramatiq.get_broker() if _has_global() else None
    dramatiq.set_broker(broker)
    if previous is not None and previous is not broker:
        for name in list(previous.actors):
            actor = previous.actors[name]
            actor.broker = broker
            broker.declare_actor(actor)
    return broker


def _has_global() -> bool:
    from dramatiq import broker as broker_module

    return broker_module.global_broker is not None


def install_from_env() -> dramatiq.Broker:
    """The broker the settings ask for (``REDIS_URL``, ``OUTREACH_REDIS_NAMESPACE``)."""
    settings = Settings.from_env()
    return install(build_broker(settings.redis_url, settings.redis_namespace))


if not _has_global():
    install_from_env()
