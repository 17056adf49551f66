"""The command line: ``nbjobs run``, ``nbjobs demo``."""
