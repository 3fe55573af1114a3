"""style models."""
