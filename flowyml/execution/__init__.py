"""flowyml.execution."""
