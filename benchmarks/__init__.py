"""flowyml's benchmark harness: ``python -m benchmarks`` (see ``docs/benchmarks.md``).

Every scenario runs in fresh child processes, several repetitions, and every flowyml
figure is divided by a minimal anyio scheduler measured in the same run
(:mod:`benchmarks.baseline`).  Peers (Prefect 3, Hamilton, flowyml 2.2.1) run in their own
virtualenvs with ``--peers``.  Importing this package imports nothing heavy.
"""
