"""Device choice, threads, and the torch-free callback types."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.training import (
    as_torch_device,
    available_devices,
    never_stop,
    no_progress,
    select_device,
    set_threads,
)


def test_select_device() -> None:
    cuda = torch.cuda.is_available()
    assert select_device() == "cpu" and select_device(None, gpus=0) == "cpu"
    assert select_device(None, gpus=1) == ("cuda" if cuda else "cpu")
    assert select_device("auto") == available_devices()[0] and available_devices()[-1] == "cpu"
    assert select_device("CPU") == "cpu" and select_device(torch.device("cpu")) == "cpu"
    assert as_torch_device("cpu") == torch.device("cpu")
    for bad in ("tpu", "cuda:x", "cpu:1", ""):
        with pytest.raises(InvalidInput, match="device"):
            select_device(bad)
    with pytest.raises(InvalidInput, match="gpus"):
        select_device(None, gpus=-1)
    if not cuda:
        with pytest.raises(InvalidInput, match="CUDA is not available"):
            select_device("cuda")
    else:
        assert select_device("cuda:0") == "cuda:0"
        with pytest.raises(InvalidInput, match="visible"):
            select_device(f"cuda:{torch.cuda.device_count()}")


def test_set_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 == torch.get_num_threads()
        assert set_threads(0) == 1  # clamped
        assert set_threads(None) == 1  # left as is
        with pytest.raises(InvalidInput):
            set_threads("2")  # type: ignore[arg-type]
    finally:
        torch.set_num_threads(before)


def test_callbacks_are_torch_free_and_no_ops() -> None:
    code = (
        "import sys\n"
        "import reelforge.training\n"
        "from reelforge.training.callbacks import ProgressFn, StopFn, no_progress, never_stop\n"
        "from reelforge.training import select_device\n"
        "assert select_device(None, gpus=0) == 'cpu'\n"
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert no_progress(1, 2, "x") is None and never_stop() is False
