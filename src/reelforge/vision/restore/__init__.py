"""restore models."""
