"""Encoders: raw input -> token sequences for the context encoder.

* :mod:`hyperalign.encoders.points` -- point towers (PointNet, PointNet++, DGCNN) with farthest point sampling and
  kNN grouping: a cloud ``(B, N, C)`` becomes ``(B, L_p, dim)`` tokens, all valid.
* :mod:`hyperalign.encoders.text` -- text towers (the packaged all-MiniLM-L6-v2 by default, or a local BERT-like or
  CLIP text model): captions become ``(B, L_t, dim)`` token features with a padding mask, plus a disk cache of
  frozen features.

Nothing is imported here, so ``import hyperalign.encoders`` stays cheap; import the submodule you need.
"""
