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


# What dramatiq's own maintenance does for a dead worker (it waits until the worker's Redis
# heartbeat is a minute old and a random draw picks a command): its fetched, unacked messages
# go back to the queue. KEYS: the consumer's ack set, the queue list, the queue's messages.
_REQUEUE_FETCHED = """
local ids = redis.call("smembers", KEYS[1])
for _, id in ipairs(ids) do
    if redis.call("hexists", KEYS[3], id) > 0 then
        redis.call("rpush", KEYS[2], id)
    end
end
redis.call("del", KEYS[1])
return #ids
"""


def requeue_fetched(broker: dramatiq.Broker, consumers: list[str]) -> int:
    """Put back on the queue what dead worker processes (by Redis consumer id) had fetched
    but not finished; returns how many messages. A no-op for the in-process broker."""
    from dramatiq.brokers.redis import RedisBroker

    if not consumers or not isinstance(broker, RedisBroker):
        return 0
    client, namespace = broker.client, broker.namespace
    script = client.register_script(_REQUEUE_FETCHED)
    moved = 0
    for consumer in consumers:
        for queue in (QUEUE, f"{QUEUE}.DQ"):
            keys = [
                f"{namespace}:__acks__.{consumer}.{queue}",
                f"{namespace}:{queue}",
                f"{namespace}:{queue}.msgs",
            ]
            moved += int(script(keys=keys))
        client.zrem(f"{namespace}:__heartbeats__", consumer)
    return moved


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
