"""Built-in tasks: the only place that joins platform and capabilities.

Importing this package registers every built-in task. Task modules import heavy capability code
(torch, PyAV) inside the task functions, so listing tasks stays fast.
"""

from reelforge.tasks import (  # noqa: F401
    audio,
    classify,
    diffusion,
    edit,
    gan,
    interpolate,
    media,
    restore,
    script,
    style,
    subtitles,
    system,
    video,
)
