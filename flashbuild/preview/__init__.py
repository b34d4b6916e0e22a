"""``flash preview``: every endpoint of an artifact run locally, as its worker runs it."""
