"""Media paths of a corpus line that resolve outside the corpus directory are refused."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data_prep.hirenet import build
from data_prep.hirenet import corpus
from data_prep.hirenet import validate
from data_prep.errors import CorpusError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _openface_csv(path, num_frames=30, fps=30.0, seed=0):
  from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  with open(path, 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['frame', 'face_id', 'timestamp', 'confidence', 'success']
               + list(video.FEATURE_NAMES))
    for k in range(num_frames):
      w.writerow([k + 1, 0, f'{k / fps:.4f}', 0.98, 1]
                 + [f'{v:.4f}' for v in rng.standard_normal(len(video.FEATURE_NAMES))])


def _corpus(tmp_path, first_video: str, num_candidates: int = 30) -> str:
  """Candidates c0.. with one video answer each; c0's video is `first_video`."""
  corpus_dir = tmp_path / 'corpus'
  os.makedirs(corpus_dir / 'openface', exist_ok=True)
  with open(corpus_dir / 'interviews.jsonl', 'w', encoding='utf-8') as f:
    for i in range(num_candidates):
      video = first_video if i == 0 else f'openface/c{i}.csv'
      if i:
        _openface_csv(corpus_dir / video, seed=i)
      f.write(json.dumps({
          'candidate_id': f'c{i}', 'position_id': 'p', 'job_title': 'Vendeur',
          'label': i % 2, 'answers': [{'question': 'Présentez-vous.',
                                       'transcript': 'bonjour', 'video': video}]}) + '\n')
  return str(corpus_dir)


@pytest.fixture
def outside(tmp_path):
  """A valid OpenFace CSV outside the corpus directory, and a symlink to it inside."""
  path = tmp_path / 'elsewhere.csv'
  _openface_csv(path)
  return str(path)


def _named(tmp_path, outside, kind: str) -> str:
  if kind == 'absolute':
    return outside
  if kind == 'dotdot':
    return '../elsewhere.csv'
  os.makedirs(tmp_path / 'corpus' / 'openface', exist_ok=True)
  os.symlink(outside, tmp_path / 'corpus' / 'openface' / 'link.csv')
  return 'openface/link.csv'


@pytest.mark.parametrize('kind', ['absolute', 'dotdot', 'symlink'])
def test_outside_path_is_refused_naming_line_candidate_and_path(tmp_path, outside, kind):
  named = _named(tmp_path, outside, kind)
  corpus_dir = _corpus(tmp_path, named)
  interviews, problems = corpus.read_corpus(corpus_dir)
  assert 'c0' not in [i.candidate_id for i in interviews]
  (problem,) = problems
  assert problem.record == 'line 1 (c0)' and problem.candidate_id == 'c0'
  assert f'video path {named!r} resolves outside the corpus directory' in problem.reason
  assert '--allow_external_media' in problem.reason
  assert any('outside the corpus' in p.reason for p in validate.check_corpus(corpus_dir)[0])
  with pytest.raises(CorpusError, match='line 1 .c0.*outside the corpus directory'):
    build.build_dataset(corpus_dir, 'video', str(tmp_path / 'data'))


@pytest.mark.parametrize('kind', ['absolute', 'dotdot', 'symlink'])
def test_outside_path_is_read_when_allowed(tmp_path, outside, kind):
  corpus_dir = _corpus(tmp_path, _named(tmp_path, outside, kind))
  (interview,), problems = corpus.read_corpus(corpus_dir, allow_external_media=True)[0][:1], \
      corpus.read_corpus(corpus_dir, allow_external_media=True)[1]
  assert not problems and interview.candidate_id == 'c0'
  assert os.path.realpath(interview.answers[0].video) == outside
  assert validate.check_corpus(corpus_dir, allow_external_media=True)[0] == []
  summary = build.build_dataset(corpus_dir, 'video', str(tmp_path / 'data'),
                                allow_external_media=True)
  assert summary['counts']['candidates_kept'] == 30


def test_paths_inside_the_corpus_need_no_flag(tmp_path):
  corpus_dir = _corpus(tmp_path, 'openface/../openface/c0.csv')
  _openface_csv(os.path.join(corpus_dir, 'openface', 'c0.csv'))
  interviews, problems = corpus.read_corpus(corpus_dir)
  assert not problems and len(interviews) == 30


def test_validate_command_refuses_etc_passwd_unless_allowed(tmp_path):
  corpus_dir = _corpus(tmp_path, '/etc/passwd', num_candidates=2)
  cmd = [sys.executable, '-m', 'data_prep.validate', f'--corpus_dir={corpus_dir}',
         '--modalities=video']
  refused = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
  assert refused.returncode == 1
  assert "line 1 (c0)" in refused.stderr
  assert "video path '/etc/passwd' resolves outside the corpus directory" in refused.stderr
  allowed = subprocess.run(cmd + ['--allow_external_media'], capture_output=True,
                           text=True, cwd=ROOT)
  # Allowed, the file is opened: it is no OpenFace CSV, which is now the problem.
  assert 'outside the corpus directory' not in allowed.stderr
  assert 'passwd' in allowed.stderr
