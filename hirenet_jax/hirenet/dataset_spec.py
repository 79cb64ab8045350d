"""The contract between data_prep and training: modalities, splits and where a prepared
dataset keeps its shards and assets (docs/contracts.md). One owner; everything imports it.
"""

from __future__ import annotations

import dataclasses
import os

SPLITS = ('train', 'validation', 'test')
DATASET_NAME = 'hirenet_interviews'  # TFDS builder name of the shards.
DATASET_VERSION = '1.0.0'  # TFDS version directory of the shards.


@dataclasses.dataclass(frozen=True)
class Modality:
  """What the code needs to know about one input modality; code asks these, never the name.

  words: answers are word ids into the dataset's vocabulary, embedded by the model (text);
    otherwise float feature frames [T, D] extracted from one media file per answer and
    normalised with the training split's statistics.
  media_key: the answer field of interviews.jsonl that names its input.
  unit: what one time step of an answer is, for reports.
  length_unit: the unit of the paper's Table 2 lengths ('words' or 'seconds').
  pools_frames: consecutive frames may be averaged into one step (`frame_pooling`; the
    100 frames/s eGeMAPS LLDs).
  non_sequential: the paper's non-sequential baseline: 'doc2vec' (of the transcript),
    'frame_functionals' (statistics of the prepared frames) or 'audio_functionals'
    (eGeMAPS functionals, computed from the audio files).
  """
  name: str
  words: bool
  media_key: str
  unit: str
  length_unit: str
  pools_frames: bool
  non_sequential: str

  @property
  def frame_features(self) -> bool:
    """Answers are float frames from media files: a feature_dim, normalisation statistics."""
    return not self.words


MODALITY_SPECS = {
    'text': Modality('text', words=True, media_key='transcript', unit='word',
                     length_unit='words', pools_frames=False, non_sequential='doc2vec'),
    'audio': Modality('audio', words=False, media_key='audio', unit='eGeMAPS frame',
                      length_unit='seconds', pools_frames=True,
                      non_sequential='audio_functionals'),
    'video': Modality('video', words=False, media_key='video', unit='OpenFace window',
                      length_unit='seconds', pools_frames=False,
                      non_sequential='frame_functionals'),
}
MODALITIES = tuple(MODALITY_SPECS)
FRAME_MODALITIES = tuple(m for m, spec in MODALITY_SPECS.items() if spec.frame_features)


def modality(name: str) -> Modality:
  """The spec of `name`; a ValueError naming the known modalities otherwise."""
  try:
    return MODALITY_SPECS[name]
  except KeyError:
    raise ValueError(f'unknown modality {name!r}; expected one of '
                     f'{", ".join(MODALITIES)}') from None


def dataset_dir(data_dir: str, modality_name: str) -> str:
  """The TFDS directory holding one modality's array_record shards."""
  return os.path.join(data_dir, DATASET_NAME, modality_name, DATASET_VERSION)


def assets_dir(data_dir: str, modality_name: str) -> str:
  """meta.json, vocabulary, embeddings and normalisation statistics of one modality."""
  return os.path.join(data_dir, 'assets', modality_name)


# ------------------------------------------------------------- text representations


@dataclasses.dataclass(frozen=True)
class Representation:
  """How a text dataset's words are represented (`--representation`, meta.json's
  `embeddings.source`):

  'word2vec': 200-d word2vec trained on the dataset's training split, rows of
    embeddings.npy the model embeds word ids with.
  'vectors:PATH': a pretrained vector file (word2vec, fastText, GloVe) in embeddings.npy.
  'llm[:LAYER]': the language model's hidden states of that layer (encoder.py's numbering:
    0 the token embeddings ... n the final norm; negative counts from the end) pooled
    onto each word, stored with the shards; the model projects them.
  `path` is None for 'vectors' (any file) and `layer` None for 'llm' (the default layer
  when building, any layer when checking a dataset).
  """
  kind: str
  path: str | None = None
  layer: int | None = None

  def __str__(self) -> str:
    if self.kind == 'vectors' and self.path:
      return f'vectors:{self.path}'
    if self.kind == 'llm' and self.layer is not None:
      return f'llm:{self.layer}'
    return self.kind


# An llm dataset's per-dimension (mean, std) of its training answers' word states, beside
# meta.json: batches carry the states standardised with them.
STATE_STATS_FILE = 'state_stats.npz'


def parse_representation(text: str) -> Representation:
  """'word2vec', 'vectors', 'vectors:PATH', 'llm' or 'llm:LAYER' as a Representation;
  a ValueError saying the forms otherwise."""
  kind, _, arg = str(text).strip().partition(':')
  forms = "'word2vec', 'vectors:PATH', 'llm' or 'llm:LAYER'"
  if kind == 'word2vec' and not arg:
    return Representation('word2vec')
  if kind == 'vectors':
    return Representation('vectors', path=arg or None)
  if kind == 'llm':
    if not arg:
      return Representation('llm')
    try:
      return Representation('llm', layer=int(arg))
    except ValueError:
      raise ValueError(f'text representation {text!r}: LAYER must be an integer '
                       f'(0 = token embeddings, -1 = final norm); expected {forms}') from None
  raise ValueError(f'unknown text representation {text!r}; expected {forms}')
