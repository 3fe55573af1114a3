"""Vision capability room: PyTorch models, training loops and image-quality metrics (pure library)."""
