"""Tests that run the pipeline, the ``flash`` command, uv, preview processes or the network."""
