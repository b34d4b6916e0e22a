"""Fast tests of one stage's functions on plain objects and temporary files."""
