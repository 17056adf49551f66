"""The Jupyter glue: the kernel's loop and Interrupt, display hooks, ``%%orchestrate``."""
