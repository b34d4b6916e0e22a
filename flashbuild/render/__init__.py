"""Generated files: one handler per endpoint, and the manifest."""
