"""Shared fixtures: a session redis-server, fleets, and a unique namespace per test."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.fixtures.fleet import fleet, shared_fleet  # noqa: F401  # re-exported fixtures
from tests.fixtures.redis_server import (  # noqa: F401  # re-exported fixtures
    private_redis,
    redis_server,
)

# Fleets started with this process's environment get one front too, as those started with
# tests.fixtures.fleet.clean_env() do (ADR-0019's default would double them).
os.environ.setdefault("MCPFLEET_FRONTS", "1")


@pytest.fixture
def fleet_name() -> str:
    return "t" + uuid.uuid4().hex[:12]
