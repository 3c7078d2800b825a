"""flowyml.compile."""
