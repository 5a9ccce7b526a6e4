"""The customer's own view (SPEC §1, §7): live values, peaks and a peak warning at home.

Strategy: nothing here touches the grid link. The local broker is the customer's (the config
loader refuses the grid operator's broker), its credentials are its own, and the grid readout
policy (once per day, opt-out) does not apply: what the home sees is never a release.
`attach_local` wires the service into the agent's hooks; `attach_meter_peaks` records the
Belgian meters' own monthly peaks for `edge-agent peaks`, with or without a local broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from edge.adapters.mqtt_config import BrokerSettings
from edge.local.availability import MeterAvailability
from edge.local.link import LocalLink
from edge.local.meter_peaks import MeterPeakRecorder, attach_meter_peaks
from edge.local.reconcile import Reconciler
from edge.local.service import LocalService

if TYPE_CHECKING:
    from edge.adapters.source_base import SourceStatus
    from edge.agent import Agent

__all__ = ["LocalLink", "LocalService", "MeterPeakRecorder", "attach_local", "attach_meter_peaks"]


def attach_local(agent: Agent) -> LocalService:
    """Connect to the `[local]` broker in the background and publish from `agent`'s hooks."""
    config = agent.config
    local = config.local
    if local is None:
        raise ValueError("attach_local needs a [local] section")
    settings = BrokerSettings.from_config(
        str(local.broker),
        username=local.username or "",
        password_file=local.password_file or "",
        key_prefix="local.",
    )
    service_link = LocalLink(
        settings,
        client_id=f"p1edge-local-{config.gateway.id}",
        availability_topic=f"{local.prefix}/{config.gateway.id}/availability",
        health=agent.health,  # connection state and failures in the status model
        reconciler=(
            Reconciler(config.gateway.id, (point.ean for point in config.points))
            if local.homeassistant_discovery
            else None
        ),
    )
    lines = MeterAvailability(config, lambda: _line_statuses(agent))
    service = LocalService(
        config, service_link, agent.conn, ZoneInfo(config.gateway.timezone), availability=lines
    )
    agent.hooks.on_telegrams.append(service.on_telegrams)
    agent.hooks.after_commit.append(service.after_commit)
    agent.hooks.on_tick.append(service.on_tick)
    agent.hooks.on_stop.append(service_link.stop)
    agent.status_parts["local"] = lambda: {  # the connection itself is `links.local`
        "published": service_link.published,
        "dropped": service_link.dropped,
    }
    service_link.start()
    return service


def _line_statuses(agent: Agent) -> dict[str, SourceStatus]:
    """Each point's line as its source reports it (of a replay's captures, the one being read:
    the first not yet stopped)."""
    out = {}
    for ap, workers in list(agent.sources.items()):
        statuses = [worker.status() for worker in workers]
        if statuses:
            out[ap] = next((s for s in statuses if s.state != "stopped"), statuses[-1])
    return out
