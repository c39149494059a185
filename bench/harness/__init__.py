"""The side-by-side benchmark ``make bench`` runs: mcpfleet against the official MCP SDK.

Modules, one concern each: :mod:`~bench.harness.peers` (virtualenvs and server processes),
:mod:`~bench.harness.checks` (correctness before measuring), :mod:`~bench.harness.accounting`
(/proc CPU and Redis commandstats), :mod:`~bench.harness.schedule` (configurations,
interleaving, medians), :mod:`~bench.harness.report` (ratios, targets, JSON and Markdown),
:mod:`~bench.harness.machine` (what it ran on) and :mod:`~bench.harness.run` (the run).
The load itself comes from :mod:`bench.loadgen`.
"""
