"""flowyml.definition."""
