"""The core: errors, ordered job sets, the graph algebra, jobs and sequences, events,
output capture, and the read-only protocol that views use. Imports the standard library only."""
