"""Video analysis: shot detection (hard cuts, dissolves, fades) on frames decoded once at low resolution.

- ``decode``: every frame once, small (96x54 and 48x27 RGB), chunk by chunk, under the media limits;
  exact frame rates, time stamps from pts, variable frame rate detected.
- ``timecode``: frame numbers to SMPTE timecode and back (23.976, 29.97/59.94 drop frame, ...).
- ``detector``: the one interface a detector implements (feed chunks, finish with a ``Detection``).
- ``content`` (histograms + luma grid, adaptive threshold), ``flashes`` (flash suppression),
  ``gradual`` (dissolves and fades), ``transnet`` (TransNetV2): the detectors and their parts.
- ``shots``: decode once, run the detectors, combine them, build the shot list (the JSON contract).
- ``sheet``: a contact sheet of a shot list's keyframes; ``scoring``: precision/recall against truth;
  ``synthetic``: generated edits with known ground truth for tests, benchmarks and the demo.

Submodules are imported by name; this package imports nothing, so ``import reelforge`` stays light.
"""
