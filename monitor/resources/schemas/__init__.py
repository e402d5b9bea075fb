"""JSON Schema files of the read resources (see :mod:`monitor.resources`)."""
