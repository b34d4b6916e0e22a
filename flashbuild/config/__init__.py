"""The build configuration: options, ``[tool.flash]``, environment and base images."""
