"""flowyml.storage."""
