"""Releasing signed day blocks: from the store to the grid operator (SPEC §5–§7)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from edge.adapters.mqtt import GridLink
from edge.adapters.mqtt_config import BrokerSettings
from edge.blocks.keys import load_private_key, load_public_key
from edge.config.model import Clock
from edge.errors import ConfigError
from edge.release.service import MQTT311_ALARM, ReleaseService
from edge.store.db import DB_NAME

if TYPE_CHECKING:
    from edge.agent import Agent

LOG: Final = logging.getLogger("edge.release")

__all__ = ["ReleaseService", "attach_release"]


def attach_release(agent: Agent) -> ReleaseService:
    """Wire the release machinery (and the grid link, if `[grid]` is configured) into `agent`."""
    config = agent.config
    config.check_files()
    grid = config.grid
    if grid is None:
        raise ConfigError("grid: releasing day blocks needs a [grid] section (the broker)")
    operator = [load_public_key(grid.operator_key)] if grid.operator_key else []
    service = ReleaseService(
        agent, signing_key=load_private_key(config.signing.key), operator_keys=operator, link=None
    )
    settings = BrokerSettings.from_config(
        str(grid.broker),
        protocol=grid.protocol,
        username=grid.username or "",
        password_file=grid.password_file or "",
        ca_file=grid.ca_file or "",
        client_cert=grid.client_cert or "",
        client_key=grid.client_key or "",
        keepalive=grid.keepalive,
    )
    service.link = GridLink(
        settings,
        gateway_id=config.gateway.id,
        db_path=config.gateway.data_dir / DB_NAME,
        prefix=grid.prefix,
        on_command=service.on_command,
        health=agent.health,  # the link's failures and connection state in the status model
    )
    if settings.protocol == "3.1.1":
        LOG.warning(
            "grid.protocol = 3.1.1: the broker cannot report refused publishes (no PUBACK "
            "reason codes), so a block it refuses (e.g. an ACL deny) is lost unseen; use MQTT 5"
        )
        service.alarms.append(MQTT311_ALARM)
    service.link.start()
    agent.hooks.on_tick.append(service.tick)
    if config.gateway.clock is Clock.METER:
        # meter time runs fast in replays and demos: look at the policy with every commit
        # (each closed quarter-hour), after the store holds it
        agent.hooks.after_commit.append(lambda _closed, _now: service.tick(0))
    agent.hooks.on_stop.append(lambda: _stop(agent, service))
    agent.status_parts["release"] = service.status_fields
    return service


def _stop(agent: Agent, service: ReleaseService) -> None:
    link = service.link
    if link is None:
        return
    if agent.until_eof:
        service.tick(agent.now)  # the final release, in the final meter time
        status = link.wait_settled(agent.drain_timeout)
        if status.depth:
            LOG.error("%d blocks could not be delivered: %s", status.depth, status.alarms())
            agent.exit_code = 1
    link.stop()
