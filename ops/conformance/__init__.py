"""``make conformance``: the official MCP conformance suite against the demo fleet.

Run with ``python -m ops.conformance`` (see ``__main__``); the expected-failure list is in
``expected_failures.py``, the pinned toolchain in ``package.json``/``package-lock.json``.
"""
