"""style tasks: style.transfer (image or video, optimisation or a trained network) and style.train."""

from __future__ import annotations
