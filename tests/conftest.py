"""Shared fixtures: a session redis-server, fleets, and a unique namespace per test."""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.fleet import fleet, shared_fleet  # noqa: F401  # re-exported fixtures
from tests.fixtures.redis_server import redis_server  # noqa: F401  # re-exported fixture


@pytest.fixture
def fleet_name() -> str:
    return "t" + uuid.uuid4().hex[:12]
