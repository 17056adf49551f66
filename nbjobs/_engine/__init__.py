"""The engine: ``PureScheduler`` and ``Scheduler``, ``JobFactory``, blocking runs. It reaches
the rooms above it (Jupyter) only through registries those rooms fill."""
