"""Maintainer tooling, run by the make targets from the repository root; not installed."""
