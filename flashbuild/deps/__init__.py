"""The dependency stage: resolve with uv, leave out what the images provide, install, audit."""
