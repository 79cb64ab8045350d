r"""Word states of the language model: the `llm[:LAYER]` text representation.

A dataset prepared with `--representation=llm:LAYER` stores, beside each word id, the
hidden state of the embedded SmolLM2 (or another GGUF) at that layer, computed once here
with `hirenet_jax.llm.encoder.Encoder`, frozen, read by HireNet through a learned
projection (docs/llm.md, "HireNet on language-model states").

Each text (an answer's transcript, a question, a job title) is encoded alone after the
encoder's context token, and the states of its subword tokens are averaged onto the words
that `text.tokenize_with_offsets` finds (a token counts for every word its characters
overlap). Words rather than subword tokens: sequence lengths, packing, vocabulary ids and
the attention analysis stay exactly those of a word2vec dataset, so attention keeps
showing words a reader can check; subword sequences are longer (SmolLM2 cuts a French word
into about 1.5 tokens and a number into one token per digit), so every GRU would run
longer for the same text.

Encoding is most of the cost of such a dataset, so it is done once and kept: texts are
encoded in chunks of similar lengths (batched and length-sorted by the encoder), and each
chunk's word states are written, as soon as they are computed, to
`{data_dir}/llm_states/<encoder key>/` (`StateCache`): a killed build finds them there and
encodes only the rest; a rebuild with other settings (split, seed) encodes nothing.
Identical strings (questions and job titles repeat across candidates) are encoded once.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Sequence

from absl import logging
import numpy as np
import tqdm

from data_prep.hirenet import text as text_lib

CACHE_DIR = 'llm_states'  # Beside `assets/` in the data directory.
# Layer 16 of SmolLM2-135M's 30: middle layers are better linear features than the final
# norm, whose states are shaped for predicting the next token (a probe of mean-pooled
# states on real English reviews: 0.92 ROC AUC at layers 16 and 20, 0.89 at the final
# norm); and encoding stops after the layer read, so 16 costs about half the full model
# (docs/llm.md, "HireNet on language-model states", has the probe of each layer).
DEFAULT_LAYER = 16
# What the cache key says about the pooling: change it when the pooling or our word
# tokenisation changes, so states cached before are not reused.
POOLING = 'mean of the subword tokens overlapping each word of text.tokenize_with_offsets'
# Texts per chunk of work written to the cache, bounded by characters (~4 per token).
_CHUNK_CHARS = 60_000
_CHUNK_TEXTS = 512
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def make_encoder(gguf: str | None = None):
  """The frozen encoder of a dataset: `gguf` (None = the embedded SmolLM2) with float32
  weights, so a text's states do not depend on the batch it is encoded in (bfloat16
  products round a padded batch and a lone text apart), and a resumed build stores what
  an uninterrupted one would."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import encoder as encoder_lib  # pylint: disable=g-import-not-at-top
  return encoder_lib.Encoder(gguf, weight_dtype=jnp.float32)


def mean_token_loss(texts: Sequence[str], gguf: str | None = None, *,
                    max_tokens: int = 48, max_texts: int = 64, seed: int = 0) -> float:
  """The language model's mean log-loss, in nats per token, on up to `max_texts` of
  `texts` (a seeded sample, each cut to its first `max_tokens` tokens): how well it knows
  their language. SmolLM2-135M gives 3.9-4.7 on real English, 4.5 on our French corpus
  and 6.2 on the suite's pseudo-word lexicon (uniform over its vocabulary: 10.8)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import gguf_loader  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import llama  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.tokenizer import GGUFTokenizer  # pylint: disable=g-import-not-at-top
  path = gguf_loader.embedded_model_path() if gguf is None else gguf
  config, weights, reader = gguf_loader.load(path)
  tokenizer = GGUFTokenizer(reader, path)
  texts = [t for t in texts if t and t.strip()]
  rng = np.random.default_rng(seed)
  if len(texts) > max_texts:
    texts = [texts[i] for i in sorted(rng.choice(len(texts), max_texts, replace=False))]
  rows = [ids[:max_tokens] for ids in (tokenizer.encode(' ' + t.strip()) for t in texts)]
  rows = [r for r in rows if len(r) >= 2]
  if not rows:
    raise ValueError('no text of at least two tokens to measure the model on')
  tokens = np.zeros((len(rows), max_tokens), np.int32)
  pads = np.zeros(len(rows), np.int32)
  for i, r in enumerate(rows):
    tokens[i, max_tokens - len(r):], pads[i] = r, max_tokens - len(r)

  @jax.jit
  def losses(weights, tokens_BxT, pads_B):
    h, _ = llama.forward(weights, config, tokens_BxT, pads_B)
    logp = jax.nn.log_softmax(llama.logits(weights, h[:, :-1]), axis=-1)
    picked = jnp.take_along_axis(logp, tokens_BxT[:, 1:, None], axis=-1)[..., 0]
    # Position j predicts token j+1; a row's first real token has nothing before it.
    real = jnp.arange(1, tokens_BxT.shape[1])[None] > pads_B[:, None]
    return -jnp.sum(jnp.where(real, picked, 0.0)), jnp.sum(real)

  total, count = losses(weights, jnp.asarray(tokens), jnp.asarray(pads))
  return float(total) / float(count)


def pooled_words(states_TxD: np.ndarray, token_spans: Sequence[tuple[int, int]],
                 text: str) -> np.ndarray:
  """<float32>[W, D]: the mean state of each of the W words of `text` (`tokenize`'s);
  a word whose tokens were cut off by the model's context gets zeros."""
  from hirenet_jax.llm import encoder as encoder_lib  # pylint: disable=g-import-not-at-top
  words = [(s, e) for _, s, e in text_lib.tokenize_with_offsets(text)]
  return encoder_lib.pool_words(states_TxD, token_spans, words)[0]


def word_states(states_TxD: np.ndarray, token_spans: Sequence[tuple[int, int]],
                text: str) -> np.ndarray:
  """`pooled_words` as stored: <float16>[W, D]."""
  pooled = pooled_words(states_TxD, token_spans, text)
  return np.clip(pooled, -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)


def _digest(text: str) -> str:
  return hashlib.sha256(text.encode('utf-8')).hexdigest()


class StateCache:
  """Word states of texts on disk, one folder per (encoder, layer, pooling), one file per
  chunk of texts, each keyed by the SHA-256 of its text.

  A chunk is written to a temporary file and renamed, so a killed build leaves whole
  chunks only; two builds writing the same texts write equal files under distinct names.
  """

  def __init__(self, root: str, encoder_name: str, layer: int):
    described = dict(encoder=encoder_name, layer=int(layer), pooling=POOLING)
    key = _digest(json.dumps(described, sort_keys=True))[:16]
    self.directory = os.path.join(root, key)
    os.makedirs(self.directory, exist_ok=True)
    about = os.path.join(self.directory, 'encoder.json')
    if not os.path.exists(about):
      with open(about, 'w', encoding='utf-8') as f:
        json.dump(described, f, indent=1)
    self._states: dict[str, np.ndarray] = {}
    self._tokens: dict[str, int] = {}
    for name in sorted(os.listdir(self.directory)):
      if name.endswith('.npz'):
        self._load(os.path.join(self.directory, name))

  def _load(self, path: str) -> None:
    with np.load(path) as z:
      keys, lengths, tokens, states = z['keys'], z['lengths'], z['tokens'], z['states']
    ends = np.cumsum(lengths)
    for key, end, n, count in zip(keys.tolist(), ends, lengths, tokens):
      self._states[key] = states[end - n:end]
      self._tokens[key] = int(count)

  def __len__(self) -> int:
    return len(self._states)

  def get(self, text: str) -> tuple[np.ndarray, int] | None:
    """(<float16>[W, D] word states, tokens encoded) of `text`, or None."""
    key = _digest(text)
    if key not in self._states:
      return None
    return self._states[key], self._tokens[key]

  def add(self, texts: Sequence[str], states: Sequence[np.ndarray],
          tokens: Sequence[int]) -> None:
    """Writes one chunk: the word states and token counts of `texts`."""
    keys = [_digest(t) for t in texts]
    name = _digest('\n'.join(keys))[:24]
    path = os.path.join(self.directory, f'{name}.npz')
    tmp = os.path.join(self.directory, f'.{name}.{os.getpid()}.tmp.npz')
    dim = states[0].shape[1] if states else 0
    np.savez(tmp, keys=np.asarray(keys), lengths=np.asarray([len(s) for s in states],
                                                           np.int64),
             tokens=np.asarray(tokens, np.int64),
             states=np.concatenate(states) if states else np.zeros((0, dim), np.float16))
    os.replace(tmp, path)
    for key, s, n in zip(keys, states, tokens):
      self._states[key] = s
      self._tokens[key] = int(n)


def _chunks(texts: Sequence[str]) -> list[list[str]]:
  """`texts` sorted by length and cut into chunks of at most _CHUNK_TEXTS texts and about
  _CHUNK_CHARS characters: each chunk's batches are of similar lengths (little padding)."""
  chunks, current, size = [], [], 0
  for text in sorted(texts, key=len):
    if current and (len(current) >= _CHUNK_TEXTS or size + len(text) > _CHUNK_CHARS):
      chunks.append(current)
      current, size = [], 0
    current.append(text)
    size += len(text)
  return chunks + ([current] if current else [])


def encode_words(texts: Sequence[str], encoder, *, layer: int, cache_root: str
                 ) -> tuple[dict[str, np.ndarray], dict]:
  """Word states of every text, from the cache or encoded (and cached) in chunks.

  Args:
    texts: the strings to encode (repeats are encoded once; texts without words get
      [0, D] states and are not encoded).
    encoder: a `hirenet_jax.llm.encoder.Encoder` (`make_encoder`).
    layer: 0..n, as `encoder.layer_index` gives it.
    cache_root: where `StateCache` keeps its folders.

  Returns:
    ({text: <float16>[W, D]}, figures for meta.json: texts, words, tokens encoded,
    texts found in the cache, texts cut by the model's context, encoding seconds and
    throughput of this call).
  """
  cache = StateCache(cache_root, encoder.name, layer)
  unique = list(dict.fromkeys(texts))
  out: dict[str, np.ndarray] = {}
  tokens: dict[str, int] = {}
  pending, from_cache = [], 0
  for text in unique:
    if not text_lib.tokenize(text):
      out[text] = np.zeros((0, encoder.dim), np.float16)
      tokens[text] = 0
      continue
    hit = cache.get(text)
    if hit is None:
      pending.append(text)
    else:
      out[text], tokens[text] = hit
      from_cache += 1
  logging.info('Language-model states (%s, layer %d): %d texts, %d in %s, %d to encode.',
               encoder.name, layer, len(unique), from_cache, cache.directory, len(pending))
  seconds, encoded_tokens, encoded_words, truncated = 0.0, 0, 0, 0
  bar = tqdm.tqdm(total=len(pending), desc=f'llm states (layer {layer})', unit='text',
                  leave=False, disable=not pending)
  try:
    for chunk in _chunks(pending):
      start = time.perf_counter()
      encoding = encoder.encode(chunk, layer=layer, progress=bar.update)
      states = [word_states(encoding.states_NxTxD[i, :n], encoding.offsets[i][:n], text)
                for i, (text, n) in enumerate(zip(chunk, encoding.lengths_N.tolist()))]
      counts = encoding.lengths_N.tolist()
      cache.add(chunk, states, counts)
      seconds += time.perf_counter() - start
      encoded_tokens += encoding.tokens
      encoded_words += sum(len(s) for s in states)
      truncated += encoding.truncated
      out.update(zip(chunk, states))
      tokens.update(zip(chunk, counts))
      bar.set_postfix_str(f'{encoded_tokens / max(seconds, 1e-9):.0f} tokens/s')
  finally:
    bar.close()
  if truncated:
    logging.warning('%d texts were longer than the model\'s context: their last words '
                    'have zero states.', truncated)
  if pending:
    logging.info('Encoded %d texts (%d tokens, %d words) in %.1f s: %.0f tokens/s, '
                 '%.0f words/s.', len(pending), encoded_tokens, encoded_words, seconds,
                 encoded_tokens / max(seconds, 1e-9), encoded_words / max(seconds, 1e-9))
  info = dict(texts=len(unique), words=int(sum(len(s) for s in out.values())),
              tokens=int(sum(tokens.values())), texts_from_cache=from_cache,
              texts_truncated=truncated, seconds=round(seconds, 3),
              tokens_per_second=round(encoded_tokens / seconds, 1) if seconds else None,
              words_per_second=round(encoded_words / seconds, 1) if seconds else None)
  return out, info


def word_table(vocab: text_lib.Vocabulary, texts: Sequence[Sequence[str]],
               states: Sequence[np.ndarray]) -> np.ndarray:
  """<float32>[V, D]: each vocabulary word's mean state over its occurrences in `texts`
  (the training split's word lists, with their word states); zeros for a word never seen
  there, padding and unknown. Written as embeddings.npy, so the word-vector baselines beside
  a run (the mean-word-vector probe, bag of words) read the same representation."""
  dim = states[0].shape[1] if len(states) else 0
  sums = np.zeros((len(vocab), dim), np.float64)
  counts = np.zeros(len(vocab), np.int64)
  for words, s in zip(texts, states):
    ids = vocab.encode(words)
    np.add.at(sums, ids, s.astype(np.float64))
    np.add.at(counts, ids, 1)
  table = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
  table[[text_lib.PAD_ID, text_lib.UNK_ID]] = 0.0
  return table
