"""Fixtures shared across test files (the helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import pytest

import helpers


@pytest.fixture(scope='session')
def tiny():
  """(corpus_dir, data_dir) of the tiny text corpus every training test uses."""
  return helpers.tiny_data()
