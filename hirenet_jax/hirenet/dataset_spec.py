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
  """What the code needs to know about one input modality.

  words: answers are word ids into a vocabulary (text); otherwise float feature frames.
  media_key: the answer field of interviews.jsonl that names its input.
  unit: what one time step of an answer is, for reports.
  """
  name: str
  words: bool
  media_key: str
  unit: str


MODALITY_SPECS = {
    'text': Modality('text', words=True, media_key='transcript', unit='word'),
    'audio': Modality('audio', words=False, media_key='audio', unit='eGeMAPS frame'),
    'video': Modality('video', words=False, media_key='video', unit='OpenFace window'),
}
MODALITIES = tuple(MODALITY_SPECS)


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
