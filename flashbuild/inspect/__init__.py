"""Inspect manifests and artifacts: ``flash manifest show`` and ``flash manifest diff``."""
