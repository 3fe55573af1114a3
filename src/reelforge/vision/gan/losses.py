"""GAN objectives on raw discriminator logits.

- "ns": the non-saturating loss of Goodfellow et al. (D: -log sigmoid(real) - log(1 - sigmoid(fake)),
  G: -log sigmoid(fake)); written with softplus for numerical stability.
- "hinge": D: relu(1 - real) + relu(1 + fake), G: -fake; the usual pairing with spectral norm.
- R1 (Mescheder et al. 2018): squared gradient norm of D on real images, which keeps D smooth around
  the data; "lazy" R1 evaluates it every k steps and scales it by k, for the same strength at ~1/k cost.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from reelforge.errors import InvalidInput


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "ns":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    raise InvalidInput(f"unknown GAN loss {kind!r}; use 'hinge' or 'ns'")


def g_loss(fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "ns":
        return F.softplus(-fake_logits).mean()
    raise InvalidInput(f"unknown GAN loss {kind!r}; use 'hinge' or 'ns'")


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||dD(x)/dx||^2; `real_images` must have requires_grad=True.

    The graph is kept (create_graph) so the penalty itself can be backpropagated into D.
    """
    if not real_images.requires_grad:
        raise InvalidInput("r1_penalty needs real images with requires_grad=True")
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(dim=1).mean()


def mode_seeking_loss(
    images_a: torch.Tensor, images_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Mode-seeking term (Mao et al. 2019, MSGAN) for pairs generated under the same condition.

    A conditional G easily learns to ignore z and draw one prototype per class; this term grows as
    the image distance between two latents shrinks relative to their latent distance, so G is paid to
    keep different z apart. Minimise it alongside the G loss.
    """
    ratio = (images_a - images_b).abs().mean() / (z_a - z_b).abs().mean()
    return 1.0 / (ratio + eps)


def r1_weight(gamma: float, every: int) -> float:
    """Factor applied to the R1 penalty: gamma/2, times k for lazy regularisation every k steps."""
    return 0.5 * gamma * every


def should_apply_r1(step: int, gamma: float, every: int) -> bool:
    """Whether the D update with 0-based index `step` carries the (lazy) R1 term."""
    return gamma > 0 and step % every == 0
