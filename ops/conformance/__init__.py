"""``make conformance``: the official MCP conformance suite against a fleet serving its fixtures
(``examples/conformance.py``).

Run with ``python -m ops.conformance`` (see ``__main__``); the expected-failure list is in
``expected_failures.py``, the pinned toolchain in ``package.json``/``package-lock.json``.
"""
