"""Benchmarks for nbjobs: see README.md in this folder. Never run as tests."""
