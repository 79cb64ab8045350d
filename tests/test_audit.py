"""experiments.audit and its library (hirenet_jax.core.bias_audit) on runs with planted
group gaps, and MockLLM's counterfactual probe: a judge built to be name-sensitive is
found sensitive, the scripted role-player (which ignores names) is not."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest

from data_prep.pjf import synthetic as pjf_synthetic
from hirenet_jax.core import bias_audit
from hirenet_jax.core import counterfactual
from hirenet_jax.llm.api import ScoreRequest
from hirenet_jax.mockllm import counterfactual as mockllm_probe
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm.scripted import ScriptedModel
from tests.helpers import run_cli


def _write_csv(path, rows):
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _hirenet_run(path, gap: float, n: int = 400, seed: int = 0):
  """A HireNet-like run: women's scores lowered by `gap`."""
  rng = np.random.default_rng(seed)
  os.makedirs(path, exist_ok=True)
  rows = []
  for i in range(n):
    gender = 'f' if i % 2 else 'm'
    label = int(rng.random() < 0.5)
    score = float(np.clip(0.3 * label + 0.35 + 0.15 * rng.normal()
                          - (gap if gender == 'f' else 0), 0, 1))
    rows.append({'candidate_id': f'c{i}', 'position_id': 'p', 'label': label,
                 'score': score, 'split': 'test', 'attr_gender': gender})
  _write_csv(os.path.join(path, 'predictions.csv'), rows)
  with open(os.path.join(path, 'results.json'), 'w') as f:
    json.dump({'threshold': 0.5}, f)
  return path


def test_audit_flags_a_planted_gap_and_not_an_equal_run(tmp_path):
  biased = bias_audit.audit_run(_hirenet_run(str(tmp_path / 'b'), 0.2), num_bootstrap=200)
  gender = biased['audits']['hirable']['groupings']['gender']
  assert gender['four_fifths'] == ['f']
  assert gender['impact_ratio']['f']['high'] < 0.8
  fair = bias_audit.audit_run(_hirenet_run(str(tmp_path / 'f'), 0.0), num_bootstrap=200)
  gender = fair['audits']['hirable']['groupings']['gender']
  assert not gender['four_fifths']
  other = 'f' if gender['reference'] == 'm' else 'm'
  assert gender['impact_ratio'][other]['high'] >= 0.8
  for name in ('audit.md', 'audit.json', 'audit.png'):
    assert os.path.getsize(tmp_path / 'b' / name) > 0
  text = (tmp_path / 'b' / 'audit.md').read_text()
  assert 'FLAG' in text and '| f | 200 |' in text


def test_mockllm_run_audits_each_side_and_the_handshake(tmp_path):
  rng = np.random.default_rng(1)
  run = tmp_path / 'variants' / 'mockllm'
  os.makedirs(run)
  rows = []
  for c in range(120):
    for j in range(4):
      e_i, e_c = rng.random(), rng.random()
      if c % 2:
        e_i *= 0.5  # The interviewer side favours even candidates (group m).
      rows.append({'candidate_id': f'c{c}', 'job_id': f'j{j}', 'split': 'test',
                   'e_interviewer': e_i, 'e_candidate': e_c,
                   'handshake': int(e_i >= 0.5 and e_c >= 0.5),
                   'job_accepts': int(rng.random() < 0.5),
                   'candidate_accepts': int(rng.random() < 0.5), 'match': 0,
                   'attr_gender': 'f' if c % 2 else 'm'})
  _write_csv(run / 'decisions.csv', rows)
  with open(run / 'results.json', 'w') as f:
    json.dump({'thresholds': {'interviewer': 0.5, 'candidate': 0.5}}, f)
  assert bias_audit.find_runs(str(tmp_path)) == [str(run)]
  report = bias_audit.audit_run(str(run), num_bootstrap=100)
  assert set(report['audits']) == {'interviewer', 'candidate', 'handshake'}
  assert report['audits']['interviewer']['groupings']['gender']['four_fifths'] == ['f']
  assert not report['audits']['candidate']['groupings']['gender']['four_fifths']


def test_audit_command_writes_the_report(tmp_path):
  run = _hirenet_run(str(tmp_path / 'run'), 0.2)
  proc = run_cli('experiments.audit', f'--workdir={tmp_path}', '--num_bootstrap=100')
  assert 'FLAG' in proc.stdout
  assert os.path.exists(os.path.join(run, 'audit.json'))


def test_rate_threshold_selects_as_many_as_are_positive(tmp_path):
  run = _hirenet_run(str(tmp_path / 'run'), 0.2, n=301)
  own = bias_audit.audit_run(run, num_bootstrap=50)
  at_rate = bias_audit.audit_run(run, num_bootstrap=50, threshold='rate')
  sets = bias_audit.decision_sets(run, threshold='rate')['hirable']
  assert sum(sets['y_pred']) == sum(sets['y_true'])
  assert 'selects the base rate' in at_rate['audits']['hirable']['what']
  # The run's own audit stays; the other threshold's goes beside it.
  assert at_rate['written_to'] == os.path.join(run, 'audit_threshold_rate')
  with open(os.path.join(run, 'audit.json')) as f:
    assert json.load(f)['audits']['hirable']['what'] == own['audits']['hirable']['what']
  assert bias_audit.selection_threshold([0.2, 0.9], [0, 1], 0.5, '0.3')[0] == 0.3
  with pytest.raises(ValueError, match='rate'):
    bias_audit.selection_threshold([0.2], [0], 0.5, 'median')


def test_audit_command_probes_a_mockllm_experiment(tmp_path):
  """`--probe` on a MockLLM experiment judges its test pairs again with the names
  swapped: the scripted role-player, which ignores names, moves by exactly 0."""
  corpus = pjf_synthetic.write(str(tmp_path / 'pjf'), seed=1, num_candidates=60,
                               num_jobs=20, pairs_per_candidate=4,
                               bias={'gender_proxy': True})
  work = tmp_path / 'mock'
  run_cli('experiments.mockllm', f'--corpus_dir={corpus}', f'--workdir={work}',
          '--config.max_pairs=40', '--config.variants=mockllm,wo_mi')
  proc = run_cli('experiments.audit', f'--workdir={work}', '--probe', '--num_bootstrap=100')
  assert 'Counterfactual probe of the judges' in proc.stdout
  with open(work / 'seed_0' / 'variants' / 'mockllm' / 'audit.json') as f:
    probe = json.load(f)['probe']
  with open(work / 'seed_0' / 'variants' / 'mockllm' / 'decisions.csv') as f:
    tests = sum(r['split'] == 'test' for r in csv.DictReader(f))
  assert probe['n'] == tests > 0
  assert probe['sensitive'] == []
  assert all(d['changed'] == 0 and d['value'] == 0 for d in probe['judges'].values())
  with open(work / 'seed_0' / 'variants' / 'wo_mi' / 'audit.json') as f:
    assert 'probe' not in json.load(f)  # The same judges: probed once per seed.


class NameSensitive:
  """The scripted role-player whose resume judge (S_r) says Yes less often, by a factor
  0.6, when the resume names a woman."""

  name = 'name-sensitive test double'

  def __init__(self):
    self.inner = ScriptedModel()

  def chat(self, requests):
    return self.inner.chat(requests)

  def score(self, requests):
    out = []
    for request in requests:
      value = self.inner.score([request])[0]
      resume = prompts.sections(request.messages).get(prompts.RESUME, '')
      female = counterfactual.english_gender(resume, 'f') == resume
      if prompts.behaviour(request.messages) == prompts.EVAL_RESUME and female:
        p = math.exp(self.inner.score([ScoreRequest(request.messages, prompts.YES)])[0])
        value = math.log(0.6 * p) if request.continuation == prompts.YES else math.log(
            1 - 0.6 * p)
      out.append(value)
    return out


def test_counterfactual_probe_finds_a_planted_name_sensitivity_only():
  corpus, _ = pjf_synthetic.generate(seed=1, num_candidates=30, num_jobs=10,
                                     pairs_per_candidate=2, bias={'gender_proxy': True})
  pairs = corpus.pairs[:40]
  sensitive = mockllm_probe.probe(NameSensitive(), corpus, pairs, num_bootstrap=300)
  assert sensitive['n'] == 40
  assert sensitive['sensitive'] == ['s_r']
  assert sensitive['judges']['s_r']['high'] < 0
  plain = mockllm_probe.probe(ScriptedModel(), corpus, pairs, num_bootstrap=300)
  assert plain['sensitive'] == []
  assert all(d['changed'] == 0 for d in plain['judges'].values())
