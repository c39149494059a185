"""Operational tooling run from a checkout (``make conformance``); not part of the wheel.

Nothing in ``proto``, ``server``, ``workers`` or ``supervisor`` imports from here.
"""
