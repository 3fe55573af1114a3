"""Style transfer: optimisation against a style image (``optimize``, Gatys et al.), a fast per-style
feed-forward network (``fast``, Johnson et al.), and the feature networks of their perceptual losses
(``features``: fixed-seed random weights, or VGG-19 from a local safetensors file). Video, with
temporal consistency along the optical flow, is in ``reelforge.video.stylize``.

Pure library: uint8 RGB arrays in and out, ``progress`` / ``should_stop`` callables; submodules are
imported by name (``from reelforge.vision.style.optimize import stylize_image``), so importing this
package does not import torch.
"""
