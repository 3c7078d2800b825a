"""flowyml.storage.artifacts."""
