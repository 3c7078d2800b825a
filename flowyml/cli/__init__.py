"""flowyml.cli."""
