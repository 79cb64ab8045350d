"""Fixtures shared across test files (the helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import pytest

import fake_llm_server
import helpers


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
