"""Support code for the tests, not tests: helpers, a local wheelhouse, crafted ELF files,
generated apps, the ``flash manifest`` tests' app and a stand-in ``runpod_flash`` (``stubs/``)."""
