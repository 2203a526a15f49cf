"""Zero-shot classification: rank free-form labels for a shape by the model's own distance.

Each label becomes a caption through a prompt template (default ``"{a} {label}"``: "a chair", "an armchair", the
form of the category captions the models are trained on); a shape's score for a label is the geodesic distance
between the two embeddings (smaller is better), as in CLIP-style zero-shot transfer (Radford et al., ICML 2021) with
distance in place of cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever

DEFAULT_TEMPLATE = "{a} {label}"
_ARTICLES = ("a ", "an ", "the ")


def indefinite_article(label: str) -> str:
    """``an`` before a vowel letter, else ``a`` (spelling rule; "an hour" / "a unit" are not special-cased)."""
    return "an" if label[:1].lower() in "aeiou" else "a"


def prompts(labels: Sequence[str], template: str = DEFAULT_TEMPLATE) -> list[str]:
    """Captions for ``labels``: ``template`` with ``{label}`` and ``{a}`` (its article) filled in; a label that already
    starts with an article keeps it and ``{a}`` becomes empty."""
    if "{label}" not in template:
        raise ValueError(f"--template {template!r}: expected a text with a {{label}} placeholder, e.g. 'a {{label}}'")
    out = []
    for raw in labels:
        label = raw.strip()
        has_article = label.lower().startswith(_ARTICLES)
        text = template.replace("{a}", "" if has_article else indefinite_article(label)).replace("{label}", label)
        out.append(" ".join(text.split()))
    return out


def parse_labels(text: str) -> list[str]:
    """Labels from a comma- or newline-separated text; blanks dropped, order kept, duplicates refused."""
    labels = [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]
    if len(labels) < 2:
        raise ValueError(f"labels: expected at least two labels separated by commas or newlines, got {labels}")
    seen: set[str] = set()
    for label in labels:
        if label.lower() in seen:
            raise ValueError(f"labels: {label!r} is given twice")
        seen.add(label.lower())
    return labels


@dataclass(frozen=True)
class LabelScore:
    label: str
    distance: float


@torch.no_grad()
def label_distances(retriever: Retriever, shapes: Tensor, labels: Sequence[str], template: str = DEFAULT_TEMPLATE) -> Tensor:
    """Distances (n_shapes, n_labels) between embedded ``shapes`` (n, d) and the labels' prompt embeddings."""
    return retriever.model.pairwise_distance(retriever.encode_text(prompts(labels, template)), shapes).T


def rank_labels(distances: Tensor, labels: Sequence[str], k: int) -> list[list[LabelScore]]:
    """Per shape, the ``k`` nearest labels, nearest first (ties in label order)."""
    k = min(k, len(labels))
    order = torch.argsort(distances, dim=1, stable=True)[:, :k]
    return [[LabelScore(labels[j], float(row[j])) for j in idx.tolist()] for row, idx in zip(distances, order)]


def topk_accuracy(distances: Tensor, truth: Sequence[int], ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Share of shapes whose true label index is among their ``k`` nearest labels; ties count against the model
    (a label at the same distance as the true one ranks before it)."""
    true_d = distances[torch.arange(len(truth)), torch.as_tensor(truth)]
    rank = (distances <= true_d[:, None]).sum(dim=1) - 1  # others at least as near, excluding the true label itself
    return {f"top{k}": float((rank < k).float().mean()) for k in ks}
