"""restoration tasks: restore.train (U-Net restorer or pix2pix) and restore.apply (images, video)."""

from __future__ import annotations
