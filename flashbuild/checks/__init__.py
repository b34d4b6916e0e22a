"""Static checks for the Flash docs' most common mistakes, run at build time."""
