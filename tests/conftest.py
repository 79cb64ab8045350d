"""Fixtures shared across test files (the helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import os

# Every test, and every command a test runs (they inherit the environment), raises on
# implicit rank promotion: a broadcast between arrays of different ranks is written out.
os.environ['JAX_NUMPY_RANK_PROMOTION'] = 'raise'

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

import fake_llm_server  # pylint: disable=g-import-not-at-top,wrong-import-position
import helpers  # pylint: disable=g-import-not-at-top,wrong-import-position

jax.config.update('jax_numpy_rank_promotion', 'raise')  # In case jax was imported first.


@pytest.fixture(scope='session')
def tiny():
  """(corpus_dir, data_dir) of the tiny text corpus every training test uses."""
  return helpers.tiny_data()


@pytest.fixture
def server():
  """A recording OpenAI-compatible server on 127.0.0.1 (tests/fake_llm_server.py), with
  its `base_url`; stopped after the test."""
  fake = fake_llm_server.FakeLLMServer()
  fake.base_url = fake.start()
  yield fake
  fake.stop()
