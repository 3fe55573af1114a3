"""frame interpolation tasks: video.interpolate and video.train_interpolator."""

from __future__ import annotations
