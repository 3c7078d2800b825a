"""flowyml.server."""
