"""The command line: the only layer that prints or chooses an exit code."""
