"""flowyml.storage.metadata."""
