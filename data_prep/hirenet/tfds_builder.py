"""TFDS builder `hirenet_interviews` with one config per modality (docs/contracts.md).

The builder only writes examples that data_prep.hirenet.build has already prepared (features
extracted, normalised, tokenised); readers do not need this module: they open the
written directory with `tfds.builder_from_directory` or `tfds.data_source`.
TensorFlow is not needed: TFDS serialises and reads array_record without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import tempfile
from typing import Iterator, Mapping, Sequence

from absl import logging
import numpy as np
import tensorflow_datasets as tfds
import tqdm

from hirenet_jax.hirenet import dataset_spec

NAME = dataset_spec.DATASET_NAME
VERSION = dataset_spec.DATASET_VERSION


class _LocalDatasetInfo(tfds.core.DatasetInfo):
  """DatasetInfo of a dataset that exists only where data_prep.hirenet.build writes it.

  A builder created before its dataset is written asks TFDS for the public bucket's copy
  of the dataset info, and that lookup leaves an empty `tmp*tfds` directory in the
  system temporary directory each time; there is no public copy to look for.
  """

  def initialize_from_bucket(self) -> None:
    pass


@dataclasses.dataclass(eq=False)
class HirenetConfig(tfds.core.BuilderConfig):
  """One modality; feature_dim 0 means token ids (text)."""
  modality: str = 'text'


class HirenetInterviews(tfds.core.GeneratorBasedBuilder):
  """Asynchronous video interviews, one example per candidate (HireNet, AAAI 2019)."""

  VERSION = tfds.core.Version(VERSION)
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [
      HirenetConfig(name='text', modality='text',
                    description='Answers as word ids of the transcripts.'),
      HirenetConfig(name='audio', modality='audio',
                    description='Answers as normalised eGeMAPS LLD frames.'),
      HirenetConfig(name='video', modality='video',
                    description='Answers as normalised OpenFace 0.5 s windows.'),
  ]

  def __init__(self, *, examples: Mapping[str, Sequence[dict]] | None = None,
               feature_dim: int | None = None, state_dim: int | None = None, **kwargs):
    """`examples`: split -> examples in record order (for writing only); `state_dim`:
    the size of the language-model word states of an `llm` text dataset."""
    self._examples = examples
    self._feature_dim = feature_dim
    self._state_dim = state_dim
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    ids = lambda: tfds.features.Tensor(shape=(None,), dtype=np.int32)
    if dataset_spec.modality(self.builder_config.modality).words:
      answers = ids()
    else:
      answers = tfds.features.Tensor(shape=(None, self._feature_dim),
                                     dtype=np.float32)
    features = {
        'candidate_id': tfds.features.Text(),
        'position_id': tfds.features.Text(),
        'label': tfds.features.Scalar(dtype=np.int64),
        'answers': answers,
        'answer_lengths': ids(),
        'answer_index': ids(),
        'questions': ids(),
        'question_lengths': ids(),
        'job_title': ids(),
    }
    if self._state_dim:  # An llm text dataset: each word's state beside its id.
      states = lambda: tfds.features.Tensor(shape=(None, self._state_dim), dtype=np.float16)
      features.update(answer_states=states(), question_states=states(),
                      job_title_states=states())
    return _LocalDatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(features),
        # Records keep the order data_prep.hirenet.build gives them, so meta.json can list
        # lengths and candidate ids per record without reading the shards back.
        disable_shuffling=True,
        homepage='https://arxiv.org/abs/1907.11139',
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    if self._examples is None:
      raise ValueError('HirenetInterviews is written by data_prep.hirenet.build only.')
    return {split: self._generate_examples(examples)
            for split, examples in self._examples.items()}

  def _generate_examples(self, examples: Sequence[dict]) -> Iterator[tuple[int, dict]]:
    yield from enumerate(tqdm.tqdm(examples, desc='writing shards', unit='interview',
                                   leave=False))


@dataclasses.dataclass(frozen=True)
class _ClampedShardConfig(tfds.core.utils.shard_utils.ShardConfig):
  """A fixed shard count, lowered for a split with fewer examples than shards."""

  def get_number_shards(self, total_size: int, num_examples: int,
                        uses_precise_sharding: bool = True) -> int:
    if self.num_shards:
      return max(1, min(self.num_shards, num_examples))
    return super().get_number_shards(total_size, num_examples, uses_precise_sharding)


@dataclasses.dataclass
class _DownloadConfig(tfds.download.DownloadConfig):

  def get_shard_config(self):
    return _ClampedShardConfig(num_shards=self.num_shards,
                               min_shard_size=self.min_shard_size,
                               max_shard_size=self.max_shard_size)


def write(examples: Mapping[str, Sequence[dict]], *, modality: str, data_dir: str,
          feature_dim: int | None, num_shards: int | None = None,
          state_dim: int | None = None) -> str:
  """Writes the array_record shards and dataset info; returns the dataset directory.

  `num_shards` per split (lowered for a split with fewer examples); None lets TFDS
  choose (one shard per 64 MiB to 1 GiB). `state_dim`: examples carry word states.
  """
  builder = HirenetInterviews(
      config=modality, data_dir=data_dir, file_format='array_record',
      examples=examples, feature_dim=feature_dim, state_dim=state_dim)
  prepare_quietly(builder, num_shards=num_shards)
  return str(builder.data_dir)


def prepare_quietly(builder: tfds.core.DatasetBuilder, *, num_shards: int | None,
                    beam_options=None) -> None:
  """`builder.download_and_prepare` with our shard rule (and Beam's options, for a Beam
  builder); TFDS prints banners and progress bars, a library logs them instead."""
  was_active = tfds.core.utils.tqdm_utils._active  # pylint: disable=protected-access
  banner = io.StringIO()
  try:
    tfds.display_progress_bar(False)
    with tempfile.TemporaryDirectory() as download_dir, \
        contextlib.redirect_stdout(banner):
      builder.download_and_prepare(
          download_dir=download_dir,
          download_config=_DownloadConfig(num_shards=num_shards,
                                          beam_options=beam_options))
  finally:
    tfds.display_progress_bar(was_active)
  if banner.getvalue().strip():
    logging.vlog(1, 'TFDS: %s', banner.getvalue().strip())
