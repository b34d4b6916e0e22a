"""flashbuild: build deployable artifacts for Flash apps."""

__version__ = "0.1.0"
