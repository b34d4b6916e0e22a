"""The project's sources: which files ship, what they declare, and the plan built from it."""
