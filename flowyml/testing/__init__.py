"""flowyml.testing."""
