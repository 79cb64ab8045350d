"""data_prep.pjf.narrative: same arguments same bytes, a corpus the project reads and
validates, labels that are the hidden rule up to the noise, and the rule's evidence only in
the telling: a skill's level can be read from its sentence, but not from the sentence's
length, and naming the required skills says little about job_accepts."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from data_prep.pjf import corpus as pjf_corpus
from data_prep.pjf import narrative
from hirenet_jax.core import metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(num_candidates=36, num_jobs=24, pairs_per_candidate=4)
FILES = ('jobs.jsonl', 'resumes.jsonl', 'pairs.jsonl', 'ground_truth.json')


@pytest.fixture(scope='module')
def medium():
  """A few hundred pairs: enough for stable rates and AUCs, well under a second."""
  return narrative.generate(seed=3, num_candidates=120, num_jobs=36, pairs_per_candidate=8)


def _bytes(d):
  return {name: open(os.path.join(d, name), 'rb').read() for name in FILES}


def _sentences(text):
  return [s for s in re.split(r'(?<=[.!?])\s+', text) if s]


def _rule(candidate, job):
  """The hidden rule, written again from docs/pjf_format.md: (job_accepts, candidate_accepts)."""
  job_ok = all(candidate['levels'].get(s, 0) >= r for s, r in job['requirements'].items())
  offer, wants = job['conditions'], candidate['preferences']
  candidate_ok = (offer['arrangement'] in wants['arrangements']
                  and (offer['arrangement'] == 'remote' or offer['city'] in wants['cities'])
                  and offer['pay_high'] >= wants['min_pay']
                  and offer['shift'] in wants['shifts'])
  return int(job_ok), int(candidate_ok)


def test_same_arguments_give_the_same_bytes_and_another_seed_does_not(tmp_path):
  a = _bytes(narrative.write(str(tmp_path / 'a'), seed=5, **SMALL))
  b = _bytes(narrative.write(str(tmp_path / 'b'), seed=5, **SMALL))
  c = _bytes(narrative.write(str(tmp_path / 'c'), seed=6, **SMALL))
  assert a == b
  assert all(a[name] != c[name] for name in FILES)


def test_written_corpus_reads_back_equal_and_passes_the_validator(tmp_path):
  out = narrative.write(str(tmp_path / 'n'), seed=1, **SMALL)
  corpus, problems, counts = pjf_corpus.check_corpus(out)
  assert problems == [] and not counts['splits_assigned']
  generated, truth = narrative.generate(seed=1, **SMALL)
  corpus.source = ''
  assert corpus == generated
  assert pjf_corpus.read_ground_truth(out)['pairs'] == truth['pairs']
  run = subprocess.run([sys.executable, '-m', 'data_prep.pjf_validate', f'--corpus_dir={out}'],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
  assert run.returncode == 0, run.stdout + run.stderr
  assert 'Corpus OK' in run.stdout


def test_resumes_are_paragraphs_and_ads_have_the_three_sections(medium):
  corpus, _ = medium
  for resume in corpus.resumes.values():
    assert resume.text.count('\n\n') >= 2
    assert not any(line.lstrip().startswith(('-', '*')) for line in resume.text.splitlines())
  for job in corpus.jobs.values():
    heads = [job.description.index(h) for h in ("What you'll do", 'What we need',
                                                  'What we offer')]
    assert heads == sorted(heads)


def test_without_noise_labels_are_the_rule_on_the_drawn_attributes():
  corpus, truth = narrative.generate(seed=2, label_noise=0.0, **SMALL)
  for pair, why in zip(corpus.pairs, truth['pairs'], strict=True):
    expected = _rule(truth['candidates'][pair.candidate_id], truth['jobs'][pair.job_id])
    assert (pair.job_accepts, pair.candidate_accepts) == expected
    assert (not why['unmet_requirements'], not why['unmet_preferences']) == expected


def test_noise_flips_each_label_at_its_rate_and_nothing_else():
  kwargs = dict(seed=4, num_candidates=300, num_jobs=36, pairs_per_candidate=8)
  clean, clean_truth = narrative.generate(label_noise=0.0, **kwargs)
  noisy, truth = narrative.generate(label_noise=0.2, **kwargs)
  assert clean.resumes == noisy.resumes and clean.jobs == noisy.jobs
  n = len(truth['pairs'])
  for side in ('job_accepts', 'candidate_accepts'):
    assert [p[f'{side}_true'] for p in truth['pairs']] == [
        p[side] for p in clean_truth['pairs']]
    flipped = np.mean([p[side] != p[f'{side}_true'] for p in truth['pairs']])
    assert abs(flipped - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n), (side, flipped)


def test_default_labels_are_balanced_with_a_fifth_to_a_third_handshakes():
  corpus, _ = narrative.generate()
  job = np.mean([p.job_accepts for p in corpus.pairs])
  candidate = np.mean([p.candidate_accepts for p in corpus.pairs])
  match = np.mean([p.match for p in corpus.pairs])
  assert 0.35 < job < 0.65 and 0.35 < candidate < 0.65, (job, candidate)
  assert 0.2 <= match <= 0.35, match


def _skill_sentences(corpus, truth):
  """(level, sentence) of every skill named in a resume; each named in one sentence."""
  out = []
  for cid, candidate in truth['candidates'].items():
    sentences = _sentences(corpus.resumes[cid].text)
    for skill, level in candidate['levels'].items():
      hits = [s for s in sentences if skill.lower() in s.lower()]
      assert (len(hits) == 1) if level else (len(hits) <= 1), (cid, skill)
      out += [(level, s, skill) for s in hits]
  return out


def test_each_skill_level_can_be_read_from_how_its_sentence_tells_it(medium):
  corpus, truth = medium
  read = {}
  for level, sentences in narrative.LEVEL_SENTENCES.items():
    for template in sentences:
      read[template] = level
  named = _skill_sentences(corpus, truth)
  assert {level for level, _, _ in named} == {0, 1, 2, 3}
  for level, sentence, skill in named:
    levels = {read[t] for t in read
              if t.format(skill=skill, Skill=skill[:1].upper() + skill[1:]) == sentence}
    assert levels == {level}, sentence


def test_sentence_length_does_not_reveal_the_level(medium):
  corpus, truth = medium
  words = {}
  for level, sentence, _ in _skill_sentences(corpus, truth):
    words.setdefault(level, []).append(len(sentence.split()))
  means = {level: np.mean(w) for level, w in words.items()}
  assert sorted(means) == [0, 1, 2, 3]  # Level 0: not held, yet named in passing.
  assert max(means.values()) / min(means.values()) < 1.15, means


def test_preferences_and_conditions_are_stated_in_the_texts(medium):
  corpus, truth = medium
  for cid, candidate in truth['candidates'].items():
    text = corpus.resumes[cid].text
    assert f'${candidate["preferences"]["min_pay"]:,}' in text
    assert all(city in text for city in candidate['preferences']['cities'])
  for jid, job in truth['jobs'].items():
    offer = job['conditions']
    assert f'${offer["pay_low"]:,} to ${offer["pay_high"]:,}' in corpus.jobs[jid].description
    assert narrative.SHIFTS[offer['shift']] in corpus.jobs[jid].description


def test_skill_name_overlap_is_weak_and_the_rule_is_strong(medium):
  corpus, truth = medium
  labels = [p.job_accepts for p in corpus.pairs]
  overlap, held = [], []
  for p in corpus.pairs:
    text = corpus.resumes[p.candidate_id].text.lower()
    required = truth['jobs'][p.job_id]['requirements']
    levels = truth['candidates'][p.candidate_id]['levels']
    overlap.append(np.mean([s.lower() in text for s in required]))
    held.append(np.mean([levels[s] >= r for s, r in required.items()]))
  assert len(labels) > 300
  assert metrics.roc_auc(labels, overlap) < 0.65
  assert metrics.roc_auc(labels, narrative.overlap_scores(corpus, truth)) == pytest.approx(
      metrics.roc_auc(labels, overlap))
  assert metrics.roc_auc(labels, held) > 0.85  # The labels are there to be learned.


def test_command_writes_the_narrative_corpus_with_its_own_defaults(tmp_path):
  out = tmp_path / 'c'
  run = subprocess.run(
      [sys.executable, '-m', 'data_prep.pjf_synthetic', '--style=narrative',
       f'--out_dir={out}', '--seed=2', '--num_candidates=36', '--num_jobs=24',
       '--pairs_per_candidate=4'],
      capture_output=True, text=True, cwd=REPO, timeout=120)
  assert run.returncode == 0, run.stderr
  assert 'Wrote 24 jobs, 36 resumes, 144 pairs' in run.stdout
  assert 'job_accepts_rate:' in run.stdout and 'job_overlap_auc:' in run.stdout
  # Unset flags take the narrative defaults (label_noise 0.05), not the default corpus's.
  assert _bytes(out) == _bytes(narrative.write(str(tmp_path / 'lib'), seed=2, **SMALL))
  missing = subprocess.run(
      [sys.executable, '-m', 'data_prep.pjf_synthetic', '--style=narrative'],
      capture_output=True, text=True, cwd=REPO, timeout=120)
  assert missing.returncode != 0 and '--out_dir is required' in missing.stderr
