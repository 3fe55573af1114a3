"""Classifier configuration and the compact CNN it describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from reelforge.errors import InvalidInput


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild the network (saved as config.json next to the weights)."""

    num_classes: int
    resolution: int = 32
    channels: int = 3
    width: int = 32
    depth: int = 3
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if int(self.num_classes) < 2:
            raise InvalidInput(f"num_classes must be at least 2, got {self.num_classes}")
        if self.channels not in (1, 3):
            raise InvalidInput(f"channels must be 1 or 3, got {self.channels}")
        if not 1 <= int(self.depth) <= 6:
            raise InvalidInput(f"depth must be in [1, 6], got {self.depth}")
        if int(self.width) < 4 or int(self.width) > 512:
            raise InvalidInput(f"width must be in [4, 512], got {self.width}")
        min_res = max(8, 2 ** (int(self.depth) - 1))
        if not min_res <= int(self.resolution) <= 1024:
            raise InvalidInput(
                f"resolution must be in [{min_res}, 1024] for depth {self.depth}, got {self.resolution}"
            )
        if self.class_names and len(self.class_names) != int(self.num_classes):
            raise InvalidInput(
                f"class_names has {len(self.class_names)} entries but num_classes is {self.num_classes}"
            )
        if len(set(self.class_names)) != len(self.class_names):
            raise InvalidInput("class_names must be unique")

    @property
    def names(self) -> list[str]:
        """Class names, defaulting to the indices as strings."""
        return list(self.class_names) if self.class_names else [str(i) for i in range(self.num_classes)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_classes": int(self.num_classes),
            "resolution": int(self.resolution),
            "channels": int(self.channels),
            "width": int(self.width),
            "depth": int(self.depth),
            "class_names": list(self.class_names),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassifierConfig:
        if not isinstance(d, dict) or "num_classes" not in d:
            raise InvalidInput("classifier config must be a mapping with num_classes")
        try:
            return cls(
                num_classes=int(d["num_classes"]),
                resolution=int(d.get("resolution", 32)),
                channels=int(d.get("channels", 3)),
                width=int(d.get("width", 32)),
                depth=int(d.get("depth", 3)),
                class_names=[str(n) for n in d.get("class_names", [])],
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid classifier config: {exc}") from exc


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class CompactCNN(nn.Module):
    """Stem + ``depth`` stages of two conv-bn-relu blocks (width doubling, 2x max-pool between
    stages) + global average pooling + linear head. Small enough to train on a CPU in minutes."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w = int(config.width)
        self.stem = ConvBNReLU(int(config.channels), w)
        stages: list[nn.Module] = []
        c_in = w
        for i in range(int(config.depth)):
            c_out = w * 2**i
            blocks: list[nn.Module] = [ConvBNReLU(c_in, c_out), ConvBNReLU(c_out, c_out)]
            if i < int(config.depth) - 1:
                blocks.append(nn.MaxPool2d(2))
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, int(config.num_classes))
        self.feature_dim = c_in

    def init_weights(self, generator: torch.Generator) -> None:
        """Seeded initialisation, independent of the global torch RNG."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01, generator=generator)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(x))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
