"""A frozen BERT-style text backbone run by ONNX Runtime on tokens from the ``tokenizers`` library, in NumPy: the
token features of :class:`~hyperalign.encoders.text.TextTower` without importing torch or transformers.

Tokenisation is the model directory's ``tokenizer.json``, as the transformers fast tokenizer applies it: special
tokens added, truncated to ``max_tokens``, padded to the longest text. The backbone is an ONNX export with inputs
``input_ids``, ``attention_mask`` (and ``token_type_ids`` when it takes them) and output ``last_hidden_state``
(:func:`hyperalign.encoders.text_onnx.export_text_onnx` writes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list after checking it is a non-empty sequence of non-blank strings.

    TypeError for a bare string or non-str items, ValueError for an empty sequence, a blank text or one that is not
    valid UTF-8 (lone surrogates, as Python decodes undecodable command-line bytes); all name the offending index.
    """
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"texts: expected a sequence of str, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError("texts: expected at least one text, got an empty sequence")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}]: expected str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"texts[{i}]: expected a non-blank text, got {text!r}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"texts[{i}]: not valid UTF-8 text (undecodable bytes at position {e.start}); got {text!r}"
            ) from None
    return list(texts)


class OrtTokenFeatures:
    """``features(texts) -> (features (B, L, dim) float32, zero at padding; mask (B, L) bool)`` by ONNX Runtime."""

    def __init__(self, tokenizer_file: str | Path, onnx_file: str | Path, max_tokens: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self.tokenizer.encode_batch(check_texts(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        (hidden,) = self.session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self.inputs})
        mask = feeds["attention_mask"].astype(bool)
        return np.where(mask[..., None], hidden.astype(np.float32), np.float32(0.0)), mask
