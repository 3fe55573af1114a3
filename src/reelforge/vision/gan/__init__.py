"""Generative imagery: DCGAN-family GANs (32/64/128 px), optionally class- or text-conditioned.

Train with GANTrainer (callbacks for progress, metrics, samples and checkpoints; exact resume),
ship with save_gan/load_gan (safetensors), sample with GANModel.generate / sample / latent_walk.
"""

from reelforge.vision.gan.diffaug import DiffAugment, diff_augment
from reelforge.vision.gan.ema import EMA
from reelforge.vision.gan.health import HealthCheck, HealthReport, collapse_detected, health_report
from reelforge.vision.gan.io import GANModel, load_gan, load_training_state, save_gan, save_training_state
from reelforge.vision.gan.losses import d_loss, g_loss, r1_penalty
from reelforge.vision.gan.models import SUPPORTED_RESOLUTIONS, Discriminator, GANConfig, Generator
from reelforge.vision.gan.sampling import image_grid, latent_for_seed, latent_walk, sample, slerp
from reelforge.vision.gan.trainer import AugmentConfig, GANTrainer, ImageSource, TrainResult

__all__ = [
    "EMA",
    "SUPPORTED_RESOLUTIONS",
    "AugmentConfig",
    "DiffAugment",
    "Discriminator",
    "GANConfig",
    "GANModel",
    "GANTrainer",
    "Generator",
    "HealthCheck",
    "HealthReport",
    "ImageSource",
    "TrainResult",
    "collapse_detected",
    "d_loss",
    "diff_augment",
    "g_loss",
    "health_report",
    "image_grid",
    "latent_for_seed",
    "latent_walk",
    "load_gan",
    "load_training_state",
    "r1_penalty",
    "sample",
    "save_gan",
    "save_training_state",
    "slerp",
]
