"""Tests for data_prep.hirenet.corpus (reading, labels) and data_prep.hirenet.splits."""

import collections
import json
import os

import pytest

from hirenet_jax.hirenet import dataset_spec
from data_prep.hirenet import corpus
from data_prep.hirenet import splits
from data_prep.errors import CorpusError
from data_prep.errors import read_jsonl


def _record(cid, **overrides):
  record = {'candidate_id': cid, 'position_id': 'pos1', 'job_title': 'Vendeur',
            'label': 1, 'answers': [{'question': 'Présentez-vous.',
                                     'transcript': 'Bonjour je suis là'}]}
  record.update(overrides)
  return record


def _write(tmp_path, lines):
  with open(tmp_path / 'interviews.jsonl', 'w', encoding='utf-8') as f:
    for line in lines:
      f.write((line if isinstance(line, str) else json.dumps(line)) + '\n')
  return str(tmp_path)


@pytest.mark.parametrize('decisions, label', [
    (['like'], 1), (['shortlist'], 1), (['dislike'], 0),
    (['like', 'dislike'], 1),  # Draw -> hirable.
    (['shortlist', 'dislike', 'dislike'], 0),
    (['like', 'shortlist', 'dislike'], 1),
    (['dislike', 'dislike', 'like', 'shortlist'], 1),  # Draw again.
    (['Like', ' DISLIKE ', 'dislike'], 0),
])
def test_label_is_majority_of_hirable_votes_and_draw_is_hirable(decisions, label):
  assert corpus.label_from_decisions(decisions) == label


@pytest.mark.parametrize('decisions', [[], ['maybe']])
def test_label_rejects_empty_or_unknown_decisions(decisions):
  with pytest.raises(ValueError):
    corpus.label_from_decisions(decisions)


def test_read_corpus_takes_label_from_decisions_when_no_label(tmp_path):
  rec = _record('c1', decisions=['like', 'dislike', 'dislike'])
  del rec['label']
  interviews, problems = corpus.read_corpus(_write(tmp_path, [rec]))
  assert not problems
  assert interviews[0].label == 0


def test_read_corpus_resolves_paths_and_keeps_answer_order(tmp_path):
  rec = _record('c1', answers=[
      {'question': 'q0', 'transcript': 'a', 'audio': 'audio/c1_0.wav'},
      {'question': 'q1', 'video': 'openface/c1_1.csv'}])
  (interview,), _ = corpus.read_corpus(_write(tmp_path, [rec]))
  assert [a.index for a in interview.answers] == [0, 1]
  assert interview.answers[0].audio == os.path.join(str(tmp_path), 'audio', 'c1_0.wav')
  assert interview.answers[1].transcript is None
  assert interview.answers[1].source('video').endswith('openface/c1_1.csv')


@pytest.mark.parametrize('line, expected', [
    ('{"candidate_id": "c9", "answers": [', 'malformed JSON'),
    ('[1, 2]', 'not a JSON object'),
    (json.dumps({k: v for k, v in _record('c9').items() if k != 'position_id'}),
     'missing field "position_id"'),
    (json.dumps({k: v for k, v in _record('c9').items() if k != 'label'}),
     'missing field "label"'),
    (json.dumps(_record('c9', answers=[])), '"answers" must be a non-empty list'),
    (json.dumps(_record('c9', answers=[{'transcript': 'x'}])), 'missing field "question"'),
    (json.dumps(_record('c9', label=3)), '"label" must be 0 or 1'),
    (json.dumps(_record('c9', label=None, decisions=['perhaps'])), 'undeclared decision'),
    (json.dumps(_record('c9', split='dev')), '"split" must be one of'),
])
def test_each_structural_problem_names_the_line_and_reason(tmp_path, line, expected):
  interviews, problems = corpus.read_corpus(
      _write(tmp_path, [_record('c1'), line, _record('c2')]))
  assert [i.candidate_id for i in interviews] == ['c1', 'c2']
  (problem,) = problems
  assert problem.file == 'interviews.jsonl'
  assert problem.record.startswith('line 2')
  assert expected in problem.reason


def test_read_jsonl_numbers_lines_as_an_editor_does(tmp_path):
  # The reader both systems share: blank lines count but yield nothing; a bad line is
  # named and reading goes on.
  path = tmp_path / 'records.jsonl'
  path.write_text('{"a": 1}\n\n{"a": \n  \n[2]\n', encoding='utf-8')
  rows = read_jsonl(str(path))
  assert [(n, r) for n, r, _ in rows] == [(1, {'a': 1}), (3, None), (5, [2])]
  assert [p is None for _, _, p in rows] == [True, False, True]
  assert rows[1][2].startswith('malformed JSON: ')
  with pytest.raises(CorpusError, match='missing.jsonl not found'):
    read_jsonl(str(tmp_path / 'missing.jsonl'))


def test_declared_other_actions_vote_not_hirable_and_undeclared_words_name_the_line(
    tmp_path):
  rec = _record('c1', label=None, decisions=['like', 'comment', 'Rate'])
  corpus_dir = _write(tmp_path, [_record('c0'), rec])
  _, problems = corpus.read_corpus(corpus_dir)
  (problem,) = problems
  assert problem.record == 'line 2 (c1)' and problem.candidate_id == 'c1'
  assert "undeclared decision 'comment'" in problem.reason
  assert '--not_hirable_decisions' in problem.reason
  decisions = corpus.DEFAULT_DECISIONS.extended(not_hirable=['comment', ' RATE '])
  interviews, problems = corpus.read_corpus(corpus_dir, decisions=decisions)
  assert not problems
  assert [i.label for i in interviews] == [1, 0]  # 1 hirable vote of 3.


def test_further_hirable_words_vote_hirable():
  decisions = corpus.DEFAULT_DECISIONS.extended(hirable=['invite'],
                                                not_hirable=['comment'])
  assert corpus.label_from_decisions(['invite', 'comment'], decisions) == 1  # Draw.
  assert corpus.label_from_decisions(['invite', 'comment', 'dislike'], decisions) == 0
  assert corpus.label_from_decisions(['shortlisted', 'disliked'], decisions) == 1
  with pytest.raises(ValueError, match="undeclared decision 'invite'"):
    corpus.label_from_decisions(['invite'])


def test_a_word_cannot_be_both_hirable_and_not():
  with pytest.raises(ValueError, match='both hirable and not hirable: like'):
    corpus.DEFAULT_DECISIONS.extended(not_hirable=['like'])


def test_validate_and_build_take_the_declared_words(tmp_path):
  from data_prep.hirenet import build  # pylint: disable=g-import-not-at-top
  from data_prep.hirenet import validate  # pylint: disable=g-import-not-at-top
  records = [_record(f'c{i}', label=None, answers=[
      {'question': 'Présentez-vous.', 'transcript': f'bonjour je suis {i} ici'}],
      decisions=['like', 'comment'] if i % 2 else ['dislike', 'comment'])
             for i in range(30)]
  corpus_dir = _write(tmp_path, records)
  problems, _ = validate.check_corpus(corpus_dir)
  assert len(problems) == 30 and all('comment' in p.reason for p in problems)
  decisions = corpus.DEFAULT_DECISIONS.extended(not_hirable=['comment'])
  assert validate.check_corpus(corpus_dir, decisions=decisions)[0] == []
  with pytest.raises(CorpusError, match="line 1 .c0.*undeclared decision 'comment'"):
    build.build_dataset(corpus_dir, 'text', str(tmp_path / 'data'))
  summary = build.build_dataset(corpus_dir, 'text', str(tmp_path / 'data'),
                                decisions=decisions)
  assert summary['counts']['candidates_kept'] == 30
  from hirenet_jax.hirenet import input_pipeline  # pylint: disable=g-import-not-at-top
  meta = input_pipeline.load_meta(str(tmp_path / 'data'), 'text')
  labels = {c: l for s in meta['labels'] for c, l in zip(meta['candidate_ids'][s],
                                                       meta['labels'][s])}
  assert labels == {f'c{i}': i % 2 for i in range(30)}


def test_validate_command_takes_further_not_hirable_words(tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  corpus_dir = _write(tmp_path, [_record('c1', label=None, decisions=['like', 'rate'])])
  cmd = [sys.executable, '-m', 'data_prep.validate', f'--corpus_dir={corpus_dir}',
         '--modalities=text']
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  refused = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
  assert refused.returncode == 1
  assert "line 1 (c1)" in refused.stderr and "undeclared decision 'rate'" in refused.stderr
  accepted = subprocess.run(cmd + ['--not_hirable_decisions=comment,rate'],
                            capture_output=True, text=True, cwd=root)
  assert accepted.returncode == 0, accepted.stderr
  assert 'Corpus OK.' in accepted.stdout


def test_duplicate_candidate_id_keeps_first_and_reports_second(tmp_path):
  interviews, problems = corpus.read_corpus(
      _write(tmp_path, [_record('c1'), _record('c2'), _record('c1', label=0)]))
  assert [(i.candidate_id, i.label) for i in interviews] == [('c1', 1), ('c2', 1)]
  (problem,) = problems
  assert problem.candidate_id == 'c1'
  assert 'line 3' in problem.record and 'first on line 1' in problem.reason


def test_missing_corpus_file_is_a_clear_corpus_error(tmp_path):
  with pytest.raises(CorpusError, match='interviews.jsonl not found'):
    corpus.read_corpus(str(tmp_path))


def test_missing_media_file_is_an_answer_problem(tmp_path):
  rec = _record('c1', answers=[{'question': 'q', 'audio': 'audio/nope.wav'}])
  interviews, _ = corpus.read_corpus(_write(tmp_path, [rec]))
  (problem,) = corpus.missing_files(interviews, str(tmp_path), ['audio'])
  where = (problem.candidate_id, problem.answer_index, problem.modality)
  assert where == ('c1', 0, 'audio')
  assert problem.file == os.path.join('audio', 'nope.wav')
  assert 'file not found' in problem.reason


def _ids_labels(n, positive_every=3):
  ids = [f'c{i:04d}' for i in range(n)]
  return ids, [int(i % positive_every == 0) for i in range(n)]


def test_split_by_candidate_is_80_10_10_and_stratified():
  ids, labels = _ids_labels(1000)
  assignment = splits.split_by_candidate(ids, labels, seed=0)
  sizes = collections.Counter(assignment.values())
  assert sizes == {'train': 800, 'validation': 100, 'test': 100}
  label_of = dict(zip(ids, labels))
  for split in dataset_spec.SPLITS:
    members = [c for c, s in assignment.items() if s == split]
    share = sum(label_of[c] for c in members) / len(members)
    assert abs(share - sum(labels) / len(labels)) < 0.01


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
  ids, labels = _ids_labels(200)
  a = splits.split_by_candidate(ids, labels, seed=3)
  assert a == splits.split_by_candidate(list(reversed(ids)), list(reversed(labels)), seed=3)
  assert a != splits.split_by_candidate(ids, labels, seed=4)


def test_split_by_position_holds_out_whole_positions():
  ids, _ = _ids_labels(600)
  positions = [f'pos{(i * 7) % 40}' for i in range(600)]
  assignment = splits.split_by_position(ids, positions, seed=0)
  split_of_position = collections.defaultdict(set)
  for cid, pos in zip(ids, positions):
    split_of_position[pos].add(assignment[cid])
  assert all(len(s) == 1 for s in split_of_position.values())
  sizes = collections.Counter(assignment.values())
  assert set(sizes) == set(dataset_spec.SPLITS)
  assert abs(sizes['train'] / 600 - 0.8) < 0.05
  assert assignment == splits.split_by_position(ids, positions, seed=0)


def test_errors_survive_pickling_across_process_pools():
  import pickle  # pylint: disable=g-import-not-at-top
  from data_prep.errors import FeatureError, Problem  # pylint: disable=g-import-not-at-top
  e = pickle.loads(pickle.dumps(FeatureError('a.wav', 'empty audio')))
  assert (e.path, e.reason) == ('a.wav', 'empty audio')
  problem = Problem('f', 'line 1', 'bad', candidate_id='c1', modality='audio')
  assert pickle.loads(pickle.dumps(CorpusError(problem))).problem == problem


def test_given_splits_are_kept_and_a_missing_one_is_named(tmp_path):
  lines = [_record(f'c{i}', split=dataset_spec.SPLITS[i % 3]) for i in range(6)]
  interviews, problems = corpus.read_corpus(_write(tmp_path, lines))
  assert not problems
  ids = [i.candidate_id for i in interviews]
  assignment = splits.make_splits(ids, [1] * 6, ['p'] * 6, method='given', seed=0,
                                  given=[i.split for i in interviews])
  assert assignment == {f'c{i}': dataset_spec.SPLITS[i % 3] for i in range(6)}
  with pytest.raises(ValueError, match='needs a "split" on every line.*first: c5'):
    splits.make_splits(ids, [1] * 6, ['p'] * 6, method='given', seed=0,
                       given=[i.split for i in interviews[:5]] + [None])


def test_auto_split_keeps_given_splits_only_when_every_line_has_one():
  ids = [f'c{i}' for i in range(40)]
  given = [dataset_spec.SPLITS[i % 3] for i in range(40)]
  auto = splits.make_splits(ids, [i % 2 for i in range(40)], ['p'] * 40, method='auto',
                            seed=0, given=given)
  assert auto == dict(zip(ids, given))
  partial = given[:-1] + [None]
  assert splits.resolve_method('auto', partial) == 'by_candidate'
  assert splits.make_splits(ids, [i % 2 for i in range(40)], ['p'] * 40, method='auto',
                            seed=0, given=partial) == splits.split_by_candidate(
                                ids, [i % 2 for i in range(40)], seed=0)
  assert splits.resolve_method('auto', []) == 'by_candidate'
  assert splits.resolve_method('by_position', given) == 'by_position'
