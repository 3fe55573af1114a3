"""Small image classifiers: trained on a studio's labelled images, used to score GAN samples per
requested class and (later) to auto-tag assets. Pure library: numpy/torch in, numpy out."""

from reelforge.vision.classify.data import Augment, ImageBatch, to_float_nchw
from reelforge.vision.classify.model import ClassifierConfig, CompactCNN
from reelforge.vision.classify.train import TrainedClassifier, train_classifier

__all__ = [
    "Augment",
    "ClassifierConfig",
    "CompactCNN",
    "ImageBatch",
    "TrainedClassifier",
    "to_float_nchw",
    "train_classifier",
]
