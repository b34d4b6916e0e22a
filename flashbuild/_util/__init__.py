"""Helpers every stage shares, each idea in one home: processes, files, units, TOML."""
