"""The Modality spec is the one place that knows what a modality is: code asks the spec's
properties, never compares a modality's name, and every per-modality table covers the
modalities the spec lists."""

from __future__ import annotations

import ast
import pathlib

import pytest

from hirenet_jax.hirenet import dataset_spec

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCANNED = ('hirenet_jax', 'data_prep', 'experiments', 'benchmarks')
SPEC_MODULE = ROOT / 'hirenet_jax' / 'hirenet' / 'dataset_spec.py'
# Files that still compare names, each to be mended by its owner; listed here only while
# it does (test_pending_files_still_need_listing keeps the list honest).
def _is_modality_literal(node: ast.AST) -> bool:
  if isinstance(node, ast.Constant):
    return node.value in dataset_spec.MODALITIES
  if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
    return bool(node.elts) and all(_is_modality_literal(e) for e in node.elts)
  return False


def _names_a_modality(node: ast.AST) -> bool:
  """`modality`, `config.modality`, `meta['modality']`, `modalities`, ..."""
  return 'modalit' in ast.unparse(node).lower()


def _is_modality_comparison(literal: ast.AST, others: list[ast.AST]) -> bool:
  """A modality name against something named a modality, or a literal collection of
  two or more names (`x in ('audio', 'video')`) against anything."""
  if not _is_modality_literal(literal):
    return False
  several = isinstance(literal, (ast.Tuple, ast.List, ast.Set)) and len(literal.elts) > 1
  return several or any(_names_a_modality(o) for o in others)


def modality_comparisons(source: str) -> list[tuple[int, str]]:
  """(line, expression) of every comparison of a modality with a modality's name in
  `source`: `==`, `!=`, `in`, `not in` and `match`/`case`."""
  found = []
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Compare):
      operands = [node.left, *node.comparators]
      for i, operand in enumerate(operands):
        if _is_modality_comparison(operand, operands[:i] + operands[i + 1:]):
          found.append((node.lineno, ast.unparse(node)))
          break
    elif isinstance(node, ast.Match) and _names_a_modality(node.subject):
      for case in node.cases:
        values = [p.value for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue)]
        if any(_is_modality_literal(v) for v in values):
          found.append((case.pattern.lineno, f'case {ast.unparse(case.pattern)}'))
  return sorted(found)


def _tree_violations() -> dict[str, list[tuple[int, str]]]:
  out = {}
  for package in SCANNED:
    for path in sorted((ROOT / package).rglob('*.py')):
      if path == SPEC_MODULE:
        continue
      found = modality_comparisons(path.read_text(encoding='utf-8'))
      if found:
        out[path.relative_to(ROOT).as_posix()] = found
  return out


@pytest.mark.parametrize('source', [
    "if modality == 'text':\n  pass\n",
    "x = 1 if config.modality != 'audio' else 2\n",
    "ok = meta['modality'] in ('audio', 'video')\n",
    "ok = 'video' in modalities\n",
    "ok = m not in ('text', 'audio')\n",
    "match spec_modality:\n  case 'video':\n    pass\n",
])
def test_scan_finds_a_planted_comparison(source):
  assert len(modality_comparisons(source)) == 1


@pytest.mark.parametrize('source', [
    "if dataset_spec.modality(modality).words:\n  pass\n",
    "ok = kind == 'text'\n",  # Not a modality: e.g. a chat message part.
    "ok = modality == other_modality\n",
    "name = {'audio': 1, 'video': 2}[modality]\n",
    "ok = spec.non_sequential == 'doc2vec'\n",
])
def test_scan_leaves_other_code_alone(source):
  assert modality_comparisons(source) == []


def test_scan_names_the_line_of_a_planted_comparison():
  source = 'import os\n\n\ndef f(modality):\n  return modality == "audio"\n'
  assert modality_comparisons(source) == [(5, "modality == 'audio'")]


def test_no_modality_name_is_compared_outside_the_spec():
  violations = _tree_violations()
  assert not violations, (
      'ask the Modality spec (hirenet_jax/hirenet/dataset_spec.py) instead of comparing '
      f'names: {violations}')


def test_specs_are_keyed_by_their_names_and_agree_with_each_other():
  for name, spec in dataset_spec.MODALITY_SPECS.items():
    assert spec.name == name
    assert spec.frame_features != spec.words
    assert spec.length_unit == ('words' if spec.words else 'seconds')
    assert not (spec.words and spec.pools_frames)  # Only frames are pooled.
    assert spec.non_sequential in ('doc2vec', 'frame_functionals', 'audio_functionals')
    assert (spec.non_sequential == 'doc2vec') == spec.words
  assert dataset_spec.FRAME_MODALITIES == tuple(
      m for m in dataset_spec.MODALITIES if not dataset_spec.modality(m).words)
  with pytest.raises(ValueError, match='text, audio, video'):
    dataset_spec.modality('speech')


def test_every_frame_modality_has_a_reader_and_a_synthetic_writer():
  from data_prep.hirenet import build
  from data_prep.hirenet import synthetic
  frames = set(dataset_spec.FRAME_MODALITIES)
  assert set(build._EXTRACTORS) == frames  # pylint: disable=protected-access
  assert set(synthetic._WRITERS) == frames  # pylint: disable=protected-access
  assert set(synthetic._MEDIA_FILES) == frames  # pylint: disable=protected-access
  for m in frames:
    names, rate = build._feature_info(m, None)  # pylint: disable=protected-access
    assert names and rate > 0
