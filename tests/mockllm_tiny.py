"""A tiny person-job-fit corpus for the MockLLM tests, in the phrasing the scripted test
double reads: jobs name two skills at a demanding level and a city; a resume says how
deeply each skill was used (or not at all) and which city it wants.
`job_accepts`: both skills used deeply; `candidate_accepts`: the city, which the paper's
S_j and S_a do not ask about."""

from __future__ import annotations

import dataclasses

import numpy as np

from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume

SKILLS = ('python', 'welding', 'accounting', 'nursing', 'carpentry', 'marketing')
CITIES = ('Lyon', 'Porto')
DEEP = 'I led the {s} projects of my department for five years and mentored two juniors.'
SHALLOW = 'I followed an introductory {s} course online.'


def tiny_corpus(num_candidates=36, num_jobs=6, seed=0) -> Corpus:
  """Jobs need two skills in a city; a candidate has each skill deep, shallow or not at
  all and wants one city. job_accepts: both skills deep; candidate_accepts: the city."""
  rng = np.random.default_rng(seed)
  jobs, resumes, pairs = {}, {}, []
  needs = {}
  for j in range(num_jobs):
    skills = tuple(rng.choice(SKILLS, 2, replace=False))
    city = CITIES[j % len(CITIES)]
    needs[f'j{j}'] = (skills, city)
    jobs[f'j{j}'] = Job(f'j{j}', f'Job {j}', (
        f'We are hiring in {city}. The role requires strong {skills[0]} experience. '
        f'You must also have solid {skills[1]} knowledge. We offer a permanent contract.'))
  for c in range(num_candidates):
    levels = {s: int(rng.choice(3, p=[0.2, 0.2, 0.6])) for s in SKILLS}
    city = CITIES[int(rng.integers(len(CITIES)))]
    lines = [f'I am looking for a job in {city}.']
    for s, level in levels.items():
      if level == 2:
        lines.append(DEEP.format(s=s))
      elif level == 1:
        lines.append(SHALLOW.format(s=s))
    lines.append('In my free time I enjoy hiking with friends.')
    resumes[f'c{c}'] = Resume(f'c{c}', ' '.join(lines))
    for j in rng.choice(num_jobs, 3, replace=False):
      skills, job_city = needs[f'j{j}']
      split = 'train' if c < num_candidates * 2 // 3 else (
          'validation' if c < num_candidates * 5 // 6 else 'test')
      pairs.append(Pair(f'c{c}', f'j{j}', int(all(levels[s] == 2 for s in skills)),
                        int(city == job_city), split))
  return Corpus(jobs, resumes, pairs, source='tiny')


def warm_split(corpus: Corpus, seed: int = 0) -> Corpus:
  """`corpus` re-split the way the default synthetic corpus is (pjf_corpus's warm split:
  validation and test candidates have about half their pairs in training)."""
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  decisions = {(p.candidate_id, p.job_id): (p.job_accepts, p.candidate_accepts)
               for p in corpus.pairs}
  splits = pjf_corpus.assign_pair_splits(decisions, seed, 'warm', strata=decisions)
  return dataclasses.replace(corpus, pairs=[
      dataclasses.replace(p, split=splits[(p.candidate_id, p.job_id)]) for p in corpus.pairs])
