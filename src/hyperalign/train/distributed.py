"""Process-group helpers on PyTorch's own distributed engine (torchrun + DDP); a single process needs none of it.

Under ``torchrun`` the environment names the rank and world size; :func:`init_from_env` joins the process group
(gloo on CPU, nccl on CUDA). Everything else here degrades to the single-process answer when no group exists, so one
training path serves one CPU process and N ranks (as MERU's ``meru/utils/distributed.py``).

Cross-rank negatives: :func:`gather_with_grad` is PyTorch's autograd-aware functional all-gather
(``all_gather_single_autograd``, whose backward is a summing reduce-scatter). Every rank computes the same loss on the global batch; its backward sends each rank
the sum over ranks of the loss gradients of its own rows (``W x dL/dlocal``), and DDP's gradient averaging divides by
``W`` again: the parameter gradient equals the single-process gradient of the same global batch.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> bool:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1); return whether one exists."""
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    return True


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (B_local, ...) from every rank in rank order, keeping the autograd graph (see module doc)."""
    if not is_distributed():
        return x
    from torch.distributed._functional_collectives import all_gather_single_autograd

    return all_gather_single_autograd(x.contiguous(), gather_dim=0, group=dist.group.WORLD)


def gather_ids(x: Tensor) -> Tensor:
    """Concatenate integer ids (B_local,) from every rank in rank order (no gradient)."""
    if not is_distributed():
        return x
    out = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


def device() -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shutdown() -> None:
    """Leave the process group, if any (end of a torchrun job)."""
    if is_distributed():
        dist.destroy_process_group()
