"""data_prep.pjf.authors and pjf_convert on tiny files written in the authors' layout
(doc.json, sample.json, dialogs_data.json of p1nksnow/PJF_interview) with Chinese text."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from data_prep.pjf import authors as pjf_authors
from data_prep.pjf import corpus as pjf_corpus
from data_prep.errors import CorpusError
from hirenet_jax.pjf.corpus import Turn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DOC = {
    'resume': {'g1': '三年Java后端开发经验，熟悉Spring和MySQL。',
               'g2': '应届毕业生，学过Python课程。',
               'g3': '五年财务经验，负责月度结账。'},
    'JD': {'b1': 'Java开发工程师\n负责订单系统开发，要求精通Java。',
           'b2': '数据分析师\n要求熟悉Python和SQL。'},
}
SAMPLE = {
    'geek': {'g1': {'pos': ['b1'], 'neg': ['b2']},
             'g2': {'pos': ['b2'], 'neg': []}},
    'boss': {'b1': {'pos': ['g1'], 'neg': ['g3']},
             'b2': {'pos': [], 'neg': ['g2', 'g1']}},
}
DIALOGS = {
    'g1-b1': {'dialog': '面试官：介绍一下订单系统。\n\n应聘者：我负责了订单系统的Java重构。\n\n'
                        '面试官：用过MySQL吗？\n\n应聘者：用了三年。\n\n', 'dialog_len': 4},
    'g2-b2': {'dialog': '面试官：会SQL吗？\n\n应聘者：只学过基础。\n\n', 'dialog_len': 1},
}


def _authors_dir(tmp_path, doc=DOC, sample=SAMPLE, dialogs=DIALOGS):
  d = tmp_path / 'authors'
  d.mkdir(parents=True, exist_ok=True)
  (d / 'doc.json').write_text(json.dumps(doc, ensure_ascii=False), encoding='utf-8')
  (d / 'sample.json').write_text(json.dumps(sample, ensure_ascii=False), encoding='utf-8')
  if dialogs is not None:
    (d / 'dialogs_data.json').write_text(json.dumps(dialogs, ensure_ascii=False, indent=4),
                                         encoding='utf-8')
  return str(d)


def _labels(corpus):
  return {(p.candidate_id, p.job_id): (p.job_accepts, p.candidate_accepts)
          for p in corpus.pairs}


def test_each_side_labels_its_own_decision_and_one_sided_pairs_get_0(tmp_path):
  corpus, problems, counts = pjf_authors.read_authors(_authors_dir(tmp_path))
  assert problems == []
  # (job_accepts, candidate_accepts): boss lists give the first, geek lists the second.
  assert _labels(corpus) == {('g1', 'b1'): (1, 1), ('g1', 'b2'): (0, 0),
                             ('g2', 'b2'): (0, 1), ('g3', 'b1'): (0, 0)}
  assert [p.match for p in corpus.pairs] == [1, 0, 0, 0]
  assert counts['pairs_both_sides'] == 3 and counts['pairs_job_side_only'] == 1
  assert corpus.resumes['g3'].text == DOC['resume']['g3']
  assert corpus.jobs['b1'].title == 'Java开发工程师'
  assert corpus.jobs['b1'].description == DOC['JD']['b1']


def test_one_sided_drop_keeps_only_pairs_both_sides_list(tmp_path):
  corpus, _, counts = pjf_authors.read_authors(_authors_dir(tmp_path), one_sided='drop')
  assert set(_labels(corpus)) == {('g1', 'b1'), ('g1', 'b2'), ('g2', 'b2')}
  assert counts['pairs_one_sided_dropped'] == 1


def test_dialogues_become_turns(tmp_path):
  corpus, _, counts = pjf_authors.read_authors(_authors_dir(tmp_path))
  dialogue = {(p.candidate_id, p.job_id): p.dialogue for p in corpus.pairs}
  assert dialogue[('g1', 'b1')] == (Turn('介绍一下订单系统。', '我负责了订单系统的Java重构。'),
                                    Turn('用过MySQL吗？', '用了三年。'))
  assert dialogue[('g2', 'b2')] == (Turn('会SQL吗？', '只学过基础。'),)
  assert dialogue[('g1', 'b2')] == ()
  assert counts['pairs_with_dialogue'] == 2
  no_dialogs, problems, _ = pjf_authors.read_authors(
      _authors_dir(tmp_path / 'plain', dialogs=None))
  assert problems == [] and all(not p.dialogue for p in no_dialogs.pairs)


BAD = [
    ('empty resume', lambda d, s, g: d['resume'].update(g3='  '), 'doc.json',
     "resume['g3']", 'empty text'),
    ('unknown job in a geek list', lambda d, s, g: s['geek']['g2']['neg'].append('b9'),
     'sample.json', "geek['g2'].neg[0]", "unknown job_id 'b9'"),
    ('unknown boss', lambda d, s, g: s['boss'].update(b7={'pos': [], 'neg': []}),
     'sample.json', "boss['b7']", "unknown job_id 'b7'"),
    ('conflicting lists', lambda d, s, g: s['geek']['g2']['neg'].append('b2'),
     'sample.json', "geek['g2'].neg[0]", "conflicting entry (first at geek['g2'].pos[0])"),
    ('duplicate entry', lambda d, s, g: s['boss']['b1']['pos'].append('g1'),
     'sample.json', "boss['b1'].pos[1]", 'duplicate entry'),
    ('non-string id', lambda d, s, g: s['boss']['b1']['neg'].append(5), 'sample.json',
     "boss['b1'].neg[1]", 'candidate_id must be a non-empty string'),
    ('answer missing', lambda d, s, g: g.update({'g1-b2': {'dialog': '面试官：为什么？'}}),
     'dialogs_data.json', "['g1-b2']", 'the last question has no answer'),
    ('dialogue of no pair', lambda d, s, g: g.update(
        {'g3-b2': {'dialog': '面试官：你好？应聘者：你好。'}}),
     'dialogs_data.json', "['g3-b2']", 'dialogue of a pair not in sample.json'),
    ('bad key', lambda d, s, g: g.update({'g1b1': {'dialog': '面试官：问？应聘者：答。'}}),
     'dialogs_data.json', "['g1b1']", 'key must be "<gid>-<bid>"'),
]


@pytest.mark.parametrize('case', BAD, ids=[c[0] for c in BAD])
def test_each_bad_record_is_named_and_skip_leaves_out_only_it(tmp_path, case):
  _, mutate, file, record, reason = case
  doc, sample, dialogs = (json.loads(json.dumps(x)) for x in (DOC, SAMPLE, DIALOGS))
  mutate(doc, sample, dialogs)
  d = _authors_dir(tmp_path, doc, sample, dialogs)
  with pytest.raises(pjf_corpus.CorpusProblems) as e:
    pjf_authors.read_authors(d)
  [problem] = [p for p in e.value.problems if p.record == record]
  assert problem.file == file and reason in problem.reason
  corpus, problems, _ = pjf_authors.read_authors(d, on_error='skip')
  assert problems == e.value.problems
  clean, _, _ = pjf_authors.read_authors(_authors_dir(tmp_path / 'clean'))
  if file == 'dialogs_data.json':  # Only the dialogue goes; every pair stays.
    assert _labels(corpus) == _labels(clean)
  elif case[0] == 'empty resume':  # g3 goes, and so does its pair (named too).
    assert 'g3' not in corpus.resumes and ('g3', 'b1') not in _labels(corpus)
    assert any(p.record == "boss['b1'].neg[0]" and 'was left out' in p.reason
               for p in problems)
  else:
    assert set(_labels(corpus)) <= set(_labels(clean))


def test_missing_or_malformed_files_are_corpus_errors(tmp_path):
  d = _authors_dir(tmp_path)
  with open(os.path.join(d, 'sample.json'), 'w', encoding='utf-8') as f:
    f.write('{"geek": {')
  with pytest.raises(CorpusError, match='sample.json: line 1: malformed JSON'):
    pjf_authors.read_authors(d)
  os.remove(os.path.join(d, 'doc.json'))
  with pytest.raises(CorpusError, match='doc.json not found'):
    pjf_authors.read_authors(d)


def test_tokenize_segments_chinese_words():
  tokens = pjf_authors.tokenize('我负责了订单系统的 Java 重构')
  assert 'Java' in tokens and '订单' in tokens and '系统' in tokens
  assert ''.join(tokens) == '我负责了订单系统的Java重构'


def test_convert_command_writes_a_corpus_that_reads_back(tmp_path):
  doc = json.loads(json.dumps(DOC))
  doc['JD']['b3'] = ''
  out = tmp_path / 'out'
  cmd = [sys.executable, '-m', 'data_prep.pjf_convert',
         f'--authors_dir={_authors_dir(tmp_path, doc=doc)}', f'--out_dir={out}']
  failed = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
  assert failed.returncode == 1 and "JD['b3']: empty text" in failed.stderr
  done = subprocess.run(cmd + ['--on_error=skip'], capture_output=True, text=True,
                        cwd=REPO, timeout=120)
  assert done.returncode == 0, done.stderr
  assert 'by the job only: 1' in done.stdout and 'Pairs: 4 read, 4 kept' in done.stdout
  rows = list(csv.DictReader(open(out / pjf_corpus.MANIFEST, encoding='utf-8')))
  assert [(r['file'], r['job_id'], r['reason']) for r in rows] == [
      ('doc.json', 'b3', "JD['b3']: empty text")]
  corpus, problems = pjf_corpus.read_corpus(str(out))
  expected, _, _ = pjf_authors.read_authors(_authors_dir(tmp_path), seed=0)
  assert problems == [] and corpus.pairs == expected.pairs
  assert corpus.jobs == expected.jobs and corpus.resumes == expected.resumes
