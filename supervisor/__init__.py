"""The ``mcpfleet`` command: configuration, embedded Redis, process supervision.

Starts and watches processes and reads Redis; nothing imports this package except the
console script.
"""

from supervisor.cli import main

__all__ = ["main"]
