r"""Synthetic person-job-fit corpus where word overlap is weak evidence and each
requirement's level is strong evidence (docs/pjf_format.md, "Synthetic corpus").

Jobs require 3-5 skills of their function, each at a level (1 basic, 2 working,
3 expert), and offer conditions (sector, city, salary band, contract). A resume shows a
skill's level only in how it describes it ("led the move of the billing platform to
Java" against "followed an introductory Java course"), and mentions most skills it lacks
in unrelated ways ("our Java work was handled by another group"), so nearly every resume
of a function names nearly every skill of it. The summary states the candidate's
preferences. `job_accepts` is "every requirement met at its level" and
`candidate_accepts` "every preference satisfied", each flipped with probability
`label_noise`; ground_truth.json keeps the noiseless labels and what they come from.

Every draw comes from a generator seeded by (seed, stream, index): the same arguments
give the same bytes. The command is `python -m data_prep.pjf_synthetic`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any, Sequence

import numpy as np

from data_prep import file_lock as cache
from data_prep.pjf import corpus as pjf_corpus
from hirenet_jax.core import counterfactual
from hirenet_jax.core import paths
from hirenet_jax.core import run_log
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume

GENERATOR_VERSION = 2
LEVELS = {1: 'basic', 2: 'working', 3: 'expert'}

# Job functions: what a job does and which skills it draws its requirements from.
FUNCTIONS = {
    'software': dict(
        role='software developer',
        titles=('Backend Developer', 'Software Engineer', 'Platform Engineer',
                'Full-Stack Developer'),
        skills=('Java', 'Python', 'SQL', 'Docker', 'Kubernetes', 'React', 'AWS',
                'Terraform'),
        systems=('billing platform', 'order API', 'customer portal', 'payment service',
                 'search backend', 'booking system'),
        salary=46000),
    'data': dict(
        role='data analyst',
        titles=('Data Analyst', 'Data Scientist', 'Analytics Engineer', 'BI Developer'),
        skills=('Python', 'SQL', 'statistics', 'machine learning', 'Spark', 'Tableau',
                'Excel', 'Airflow'),
        systems=('churn model', 'sales dashboard', 'forecasting pipeline',
                 'customer segmentation', 'pricing study', 'reporting warehouse'),
        salary=44000),
    'finance': dict(
        role='finance professional',
        titles=('Accountant', 'Financial Controller', 'Audit Associate', 'Finance Analyst'),
        skills=('management accounting', 'Excel', 'IFRS', 'auditing', 'SAP',
                'financial modelling', 'payroll', 'VAT returns'),
        systems=('monthly close', 'group consolidation', 'annual budget',
                 'expense process', 'cash forecast', 'supplier ledger'),
        salary=40000),
    'marketing': dict(
        role='marketer',
        titles=('Marketing Executive', 'Digital Marketing Specialist', 'Content Manager',
                'Growth Marketer'),
        skills=('SEO', 'copywriting', 'Google Ads', 'social media', 'Photoshop',
                'email marketing', 'Google Analytics', 'market research'),
        systems=('product launch campaign', 'company blog', 'customer newsletter',
                 'brand relaunch', 'trade show programme', 'loyalty scheme'),
        salary=36000),
    'operations': dict(
        role='logistics professional',
        titles=('Warehouse Supervisor', 'Logistics Coordinator', 'Supply Chain Planner',
                'Operations Manager'),
        skills=('inventory management', 'SAP', 'forklift operation', 'route planning',
                'lean manufacturing', 'procurement', 'Excel', 'quality control'),
        systems=('regional warehouse', 'spare-parts stock', 'delivery network',
                 'packing line', 'returns centre', 'cold store'),
        salary=33000),
}
FUNCTION_NAMES = tuple(FUNCTIONS)
SECTORS = ('banking', 'healthcare', 'retail', 'logistics', 'energy', 'media',
           'public administration')
CITIES = ('London', 'Manchester', 'Leeds', 'Bristol', 'Glasgow', 'Birmingham',
          'Edinburgh', 'Cardiff')
CONTRACTS = ('permanent', 'fixed-term', 'freelance', 'part-time')
_CONTRACT_P = (0.55, 0.2, 0.15, 0.1)
_CITIES_MIN, _CITIES_MAX = 3, 5   # cities a candidate accepts.
_OTHER_CONTRACT_P = 0.4           # each non-permanent contract a candidate accepts.

_REQUIRED_LEVEL_P = (0.35, 0.45, 0.2)            # levels 1, 2, 3 of a requirement.
_SKILL_LEVEL_P = (0.12, 0.2, 0.33, 0.35)  # levels 0 (absent), 1, 2, 3 of a candidate.
_ABSENT_MENTION_P = 0.8  # a skill the candidate lacks is still named, unrelatedly.
_ENVIRONMENT_P = 0.4       # each function skill appears in a position's "Environment" line.
# A skill is listed under "Core skills" with a probability growing with its level: people
# list what they know best, which is the little that word overlap can pick up.
_CORE_SKILL_P = (0.05, 0.15, 0.3, 0.5)
# Cells of a candidate's applications: (job accepts, candidate accepts) -> share.
_CELL_SHARE = {(1, 1): 0.25, (1, 0): 0.25, (0, 1): 0.25, (0, 0): 0.25}
_NEAR_MISS_WEIGHT = 4.0    # negatives failing by one requirement or one preference.

# ------------------------------------------------------------------------------ text banks

_FIRST = ('Alex', 'Sam', 'Priya', 'Tom', 'Aisha', 'Daniel', 'Chloe', 'Omar', 'Hannah',
          'Lucas', 'Mei', 'Ryan', 'Sofia', 'Jamie', 'Fatima', 'Owen', 'Grace', 'Ibrahim')
_LAST = ('Smith', 'Patel', 'Jones', 'Khan', 'Brown', 'Wilson', 'Taylor', 'Murphy', 'Chen',
         'Evans', 'Ali', 'Walker', 'Wright', 'Campbell', 'Hughes', 'Nowak')
_COMPANY_A = ('Northwind', 'Bluebell', 'Harbour', 'Kestrel', 'Oakridge', 'Meridian',
              'Lighthouse', 'Greystone', 'Riverside', 'Sterling', 'Juniper', 'Crown')
_COMPANY_B = ('Group', 'Partners', 'Ltd', 'Services', 'Holdings', '& Co')
_SECTOR_NOUN = {
    'banking': 'a retail bank', 'healthcare': 'a hospital trust',
    'retail': 'a retail chain',
    'logistics': 'a logistics firm', 'energy': 'an energy supplier',
    'media': 'a media group', 'public administration': 'a city council'}
_YEARS = {1: 'one year', 2: 'two years', 3: 'three years', 4: 'four years', 5: 'five years'}

# How a resume describes a skill at each level; level 0: named without being held.
_RESUME_LEVEL = {  # About as many words at every level: length must not tell the level.
    3: ('Led the move of the {system} to {skill} over {years} and coached the '
        'rest of the team through it.',
        'Was the go-to person for {skill} on the {system}, reviewing all the work and '
        'taking the hardest cases for {years}.',
        'Designed the {system} from scratch around {skill} and ran it in production '
        'for {years}.',
        'Taught the internal course on {skill} to new hires and wrote the guidelines '
        'the {system} team still follows.',
        'Took over the failing {system} and rebuilt it single-handedly with {skill}; it '
        'has run without a major incident since.'),
    2: ('Used {skill} every week on the {system}, handling the routine tasks without '
        'supervision for {years}.',
        'Worked with {skill} for about two years on the {system}, mostly on changes '
        'specified by a senior colleague.',
        'Delivered several small pieces of the {system} with {skill}, asking for help '
        'on the harder parts.',
        'Regularly took care of {skill} tasks for the {system} and fixed the common '
        'problems on my own.'),
    1: ('Followed an introductory {skill} course in the evenings while the rest of the '
        'team ran the {system}.',
        'Had a first look at {skill} during a two-day workshop organised for the '
        '{system} team.',
        'Watched colleagues use {skill} on the {system} and made one or two small '
        'changes under close supervision.',
        'Completed the first modules of an online {skill} tutorial, hoping to use it '
        'one day on the {system}.'),
    0: ('The {skill} side of the {system} was handled by another group, so I never '
        'touched it.',
        'Coordinated meetings with the {skill} specialists of the {system}, without '
        'doing that work myself.',
        'The {system} moved to {skill} after I had left the company, so I only heard '
        'about it.',
        'Reported issues to the contractors who looked after {skill} for the {system} '
        'every month.',
        'Shared an office with the {skill} team of the {system} for a year, without '
        'working with them.'),
}
_INTEREST_NOISE = ('curious about {skill}, which I would like to learn one day',
                   'reading a popular book about {skill}',
                   'following a podcast on {skill}')
_FILLER = ('Worked in a team of {n} people.', 'Took part in the weekly planning meeting.',
           'Welcomed and trained two interns.', 'Helped prepare the yearly review.',
           'Kept the documentation of the {system} up to date.',
           'Joined the staff committee for a year.')
_HOBBIES = ('running', 'chess', 'photography', 'cooking', 'hiking', 'choir singing',
            'volunteering at a food bank', 'football', 'gardening', 'painting')
_DEGREES = ('BSc', 'BA', 'MSc', 'HND', 'MA')
_FIELDS = {'software': ('Computer Science', 'Software Engineering', 'Mathematics'),
           'data': ('Statistics', 'Economics', 'Physics', 'Mathematics'),
           'finance': ('Accounting and Finance', 'Economics', 'Business Studies'),
           'marketing': ('Marketing', 'Communication', 'English', 'Business Studies'),
           'operations': ('Supply Chain Management', 'Business Studies', 'Engineering')}

# How a job states a requirement at each level.
_JOB_LEVEL = {
    3: ('expert command of {skill}, with a record of leading work in it',
        'several years of senior, hands-on {skill}, as our reference for it',
        'deep expertise in {skill}'),
    2: ('solid working experience of {skill}', 'the ability to work autonomously with '
        '{skill}', 'two years or more of regular {skill}'),
    1: ('basic knowledge of {skill}', 'some exposure to {skill} (we will train you)',
        'familiarity with {skill}'),
}


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
  return np.random.default_rng([seed, stream, index])


def _pick(rng: np.random.Generator, options: Sequence):
  return options[int(rng.integers(len(options)))]


def _listing(items: Sequence[str], last: str = 'or') -> str:
  items = list(items)
  return items[0] if len(items) == 1 else f'{", ".join(items[:-1])} {last} {items[-1]}'


def _money(amount: int, rng: np.random.Generator) -> str:
  return f'£{amount:,}' if rng.random() < 0.6 else f'£{amount // 1000}k'


# ------------------------------------------------------------------------------ entities

def _draw_job(seed: int, index: int) -> dict[str, Any]:
  rng = _rng(seed, 1, index)
  function = FUNCTION_NAMES[index % len(FUNCTION_NAMES)]
  spec = FUNCTIONS[function]
  n_req = int(rng.integers(3, 6))
  chosen = rng.choice(len(spec['skills']), size=n_req + 2, replace=False)
  skills = [spec['skills'][i] for i in chosen]
  levels = rng.choice([1, 2, 3], size=n_req, p=_REQUIRED_LEVEL_P)
  requirements = {s: int(l) for s, l in zip(skills[:n_req], levels)}
  nice = skills[n_req:n_req + int(rng.integers(0, 3))]
  low = int(round((spec['salary'] + 4000 * (np.mean(levels) - 2)
                   + rng.normal(0, 3000)) / 1000)) * 1000
  high = low + 1000 * int(rng.integers(3, 11))
  return dict(job_id=f'j{index:04d}', function=function,
              title=str(_pick(rng, spec['titles'])), sector=str(_pick(rng, SECTORS)),
              city=str(_pick(rng, CITIES)),
              contract=CONTRACTS[int(rng.choice(len(CONTRACTS), p=_CONTRACT_P))],
              salary=[low, high], requirements=requirements, nice_to_have=list(nice),
              company=f'{_pick(rng, _COMPANY_A)} {_pick(rng, _COMPANY_B)}',
              system=str(_pick(rng, spec['systems'])))


def _draw_candidate(seed: int, index: int) -> dict[str, Any]:
  rng = _rng(seed, 2, index)
  function = FUNCTION_NAMES[int(rng.integers(len(FUNCTION_NAMES)))]
  spec = FUNCTIONS[function]
  levels = rng.choice(4, size=len(spec['skills']), p=_SKILL_LEVEL_P)
  skills = {s: int(l) for s, l in zip(spec['skills'], levels)}
  sectors = sorted(rng.choice(len(SECTORS), size=int(rng.integers(3, 6)), replace=False))
  n_cities = int(rng.integers(_CITIES_MIN, _CITIES_MAX + 1))
  cities = sorted(rng.choice(len(CITIES), size=n_cities, replace=False))
  contracts = ['permanent'] if rng.random() < 0.85 else []
  for c in CONTRACTS[1:]:
    if rng.random() < _OTHER_CONTRACT_P:
      contracts.append(c)
  contracts = contracts or [str(_pick(rng, CONTRACTS[1:]))]
  mean_level = float(np.mean([l for l in levels if l] or [1]))
  min_salary = int(round((spec['salary'] + 3000 * (mean_level - 2)
                          + rng.normal(2000, 4000)) / 1000)) * 1000
  return dict(candidate_id=f'c{index:04d}', function=function, skills=skills,
              preferences=dict(sectors=[SECTORS[i] for i in sectors],
                               cities=[CITIES[i] for i in cities],
                               min_salary=min_salary, contracts=contracts),
              name=f'{_pick(rng, _FIRST)} {_pick(rng, _LAST)}')


def unmet_requirements(candidate: dict, job: dict) -> list[str]:
  """The job's required skills the candidate holds below the required level."""
  return [s for s, level in job['requirements'].items()
          if candidate['skills'].get(s, 0) < level]


def unmet_preferences(candidate: dict, job: dict) -> list[str]:
  """The candidate's conditions the job does not satisfy (sector, city, salary, contract).

  Salary: the top of the job's band must reach the candidate's minimum.
  """
  prefs = candidate['preferences']
  unmet = []
  if job['sector'] not in prefs['sectors']:
    unmet.append('sector')
  if job['city'] not in prefs['cities']:
    unmet.append('city')
  if job['salary'][1] < prefs['min_salary']:
    unmet.append('salary')
  if job['contract'] not in prefs['contracts']:
    unmet.append('contract')
  return unmet


def _applications(seed: int, candidate: dict, jobs: list[dict], n: int) -> list[int]:
  """Indices of the jobs a candidate is paired with, spread over the four label cells.

  Each cell (job accepts x candidate accepts) gets its share of the n pairs among the
  candidate's function's jobs, negatives favouring near misses (one requirement or one
  preference short), as a platform's positive/negative samples would; a cell with too
  few jobs leaves its share to the others.
  """
  rng = _rng(seed, 3, int(candidate['candidate_id'][1:]))
  pool = [i for i, j in enumerate(jobs) if j['function'] == candidate['function']]
  cells: dict[tuple[int, int], list[tuple[int, float]]] = {c: [] for c in _CELL_SHARE}
  for i in pool:
    req = unmet_requirements(candidate, jobs[i])
    pref = unmet_preferences(candidate, jobs[i])
    weight = 1.0
    if len(req) == 1 or len(pref) == 1:
      weight = _NEAR_MISS_WEIGHT
    cells[(int(not req), int(not pref))].append((i, weight))
  shares = np.array(list(_CELL_SHARE.values())) * n
  quotas = np.floor(shares).astype(int)
  remainder = n - int(quotas.sum())  # One more pair for a few cells drawn at random.
  if remainder:
    quotas[rng.choice(len(quotas), size=remainder, replace=False,
                      p=(shares - quotas) / (shares - quotas).sum())] += 1
  chosen: list[int] = []
  leftover = 0
  for cell, quota in zip(_CELL_SHARE, quotas):
    want = int(quota) + leftover
    options = cells[cell]
    take = min(want, len(options))
    leftover = want - take
    if take:
      weights = np.array([w for _, w in options])
      picked = rng.choice(len(options), size=take, replace=False, p=weights / weights.sum())
      chosen += [options[k][0] for k in sorted(picked)]
  rest = [i for i in pool if i not in set(chosen)]
  extra = min(n - len(chosen), len(rest))
  if extra > 0:
    chosen += [rest[k] for k in sorted(rng.choice(len(rest), size=extra, replace=False))]
  return chosen


# ------------------------------------------------------------------------------ text

def job_description(job: dict, seed: int, index: int) -> str:
  """The job's text: company, requirements at their levels, nice-to-haves, conditions."""
  rng = _rng(seed, 6, index)
  intro = _pick(rng, (
      '{company}, {noun} in the {sector} sector, is hiring a {title} in {city}.',
      'Join {company} ({sector}) as {title}, based in {city}.',
      'We are {company}, {noun}, and we are looking for a {title} for our {city} office.'))
  paragraphs = [intro.format(company=job['company'], noun=_SECTOR_NOUN[job['sector']],
                             sector=job['sector'], title=job['title'], city=job['city'])
                + f' You will work on our {job["system"]}.']
  reqs = [_pick(rng, _JOB_LEVEL[level]).format(skill=skill)
          for skill, level in job['requirements'].items()]
  if rng.random() < 0.5:
    paragraphs.append('What we need:\n' + '\n'.join(f'- {r}' for r in reqs))
  else:
    paragraphs.append(f'You bring {_listing(reqs, "and")}.')
  if job['nice_to_have']:
    nice = _listing(job['nice_to_have'], 'or')
    paragraphs.append(_pick(rng, (f'Nice to have: {nice}.',
                                  f'Knowing {nice} is a plus, not a requirement.')))
  low, high = job['salary']
  conditions = _pick(rng, (
      'Contract: {contract}. Salary: {low} to {high} a year. Location: {city}.',
      'We offer a {contract} contract paid {low}-{high} per year, in {city}.',
      'The position is {contract}, based in {city}, with a salary between {low} and '
      '{high}.'))
  paragraphs.append(conditions.format(contract=job['contract'], low=_money(low, rng),
                                      high=_money(high, rng), city=job['city']))
  return '\n\n'.join(paragraphs)


def resume_text(candidate: dict, seed: int, index: int) -> str:
  """The candidate's resume: summary with preferences, positions, education, interests."""
  rng = _rng(seed, 5, index)
  spec = FUNCTIONS[candidate['function']]
  prefs = candidate['preferences']
  n_positions = int(rng.integers(2, 4))
  position_years = [int(y) for y in rng.integers(1, 6, size=n_positions)]
  years_total = sum(position_years)
  summary = [_pick(rng, (
      'I am a {role} with {n} years of experience.',
      '{role_cap} with {n} years behind me.',
      'Experienced {role} ({n} years).')).format(
          role=spec['role'], role_cap=spec['role'].capitalize(), n=years_total)]
  sectors = _listing(prefs['sectors'])
  summary.append(_pick(rng, ('I would like to work in {s}.',
                             'The sectors that interest me are {s}.',
                             'I am looking for a role in {s}.')).format(s=sectors))
  cities = _listing(prefs['cities'])
  summary.append(_pick(rng, (
      'I can work in {c}.', 'Location: {c} only.',
      'I am willing to work in {c}, nowhere else.')).format(c=cities))
  money = _money(prefs['min_salary'], rng)
  summary.append(_pick(rng, ('I expect at least {m} a year.', 'My minimum is {m} per year.',
                             'I will not consider offers under {m}.')).format(m=money))
  contracts = _listing(prefs['contracts'])
  summary.append(_pick(rng, ('I am open to {c} contracts.',
                             'Contract type: {c}.',
                             'I am only looking for {c} positions.')).format(c=contracts))
  others = [s for s in SECTORS if s not in prefs['sectors']]
  if others and rng.random() < 0.5:
    summary.append(f'I do not want to go back to {_pick(rng, others)}.')
  core = [s for s, level in candidate['skills'].items()
          if rng.random() < _CORE_SKILL_P[level]]
  if core:
    summary.append(f'Core skills: {", ".join(core)}.')
  paragraphs = [' '.join(summary)]

  sentences = [[] for _ in range(n_positions)]
  unused = {level: [] for level in _RESUME_LEVEL}  # No phrasing twice before all are used.
  for skill, level in candidate['skills'].items():
    if level == 0 and rng.random() >= _ABSENT_MENTION_P:
      continue
    if not unused[level]:
      unused[level] = [int(k) for k in rng.permutation(len(_RESUME_LEVEL[level]))]
    where = int(rng.integers(n_positions))
    sentences[where].append(_RESUME_LEVEL[level][unused[level].pop()].format(
        skill=skill, system=_pick(rng, spec['systems']),
        years=_YEARS[position_years[where]]))
  end_year = 2024
  for p, years in enumerate(position_years):
    sector = _pick(rng, SECTORS)
    header = (f'{_pick(rng, spec["titles"])} at {_pick(rng, _COMPANY_A)} '
              f'{_pick(rng, _COMPANY_B)} ({_SECTOR_NOUN[sector]}), {_pick(rng, CITIES)}, '
              f'{end_year - years}-{end_year}.')
    end_year -= years
    body = sentences[p] + [_pick(rng, _FILLER).format(
        n=int(rng.integers(3, 15)), system=_pick(rng, spec['systems']))]
    order = rng.permutation(len(body))
    environment = [s for s in spec['skills'] if rng.random() < _ENVIRONMENT_P]
    text = header + '\n' + ' '.join(body[k] for k in order)
    if environment:
      text += f'\nEnvironment: {", ".join(environment)}.'
    paragraphs.append(text)

  paragraphs.append(f'Education: {_pick(rng, _DEGREES)} in '
                    f'{_pick(rng, _FIELDS[candidate["function"]])}, University of '
                    f'{_pick(rng, CITIES)}, {end_year}.')
  interests = list(rng.choice(_HOBBIES, size=2, replace=False))
  if rng.random() < 0.4:
    interests.append(_pick(rng, _INTEREST_NOISE).format(
        skill=_pick(rng, spec['skills'])))
  paragraphs.append(f'Interests: {"; ".join(str(i) for i in interests)}.')
  return f'{candidate["name"]}\n\n' + '\n\n'.join(paragraphs)


# ------------------------------------------------------------------------------ corpus

def _plant(candidate: dict, seed: int, index: int, bias: counterfactual.PlantedBias
           ) -> None:
  """Gives `candidate` group attributes and, with `bias.gender_proxy`, a first name of
  its gender (its own random stream: the other draws are unchanged)."""
  rng = _rng(seed, 7, index)
  candidate['attributes'] = counterfactual.draw_attributes(rng)
  names = (counterfactual.FEMALE_NAMES if candidate['attributes']['gender'] == 'f'
           else counterfactual.MALE_NAMES)
  first = str(_pick(rng, names))
  if bias.gender_proxy:
    candidate['name'] = f'{first} {candidate["name"].split(" ", 1)[1]}'


def generate(seed: int = 0, num_candidates: int = 600, num_jobs: int = 200,
             pairs_per_candidate: int = 10, label_noise: float = 0.07,
             split_mode: str = pjf_corpus.DEFAULT_SPLIT_MODE,
             bias: counterfactual.PlantedBias | dict | None = None
             ) -> tuple[Corpus, dict[str, Any]]:
  """The synthetic corpus (splits by `split_mode`, seeded by `seed`:
  pjf_corpus.assign_pair_splits) and its ground truth.

  `bias` (docs/fairness.md; None: the corpus as before) gives every resume attributes,
  turns each job-side acceptance of the disfavoured group into a rejection with
  probability `label_bias` (ground truth: `job_accepts_before_bias` per pair, the
  planted and realised impact ratios under `bias`), and with `gender_proxy` names each
  candidate with a first name of their gender.

  Ground truth: every candidate's skill levels and preferences, every job's
  requirements and conditions, and per pair (in corpus order) the noiseless labels with
  the requirements and preferences that were not met.
  """
  if num_jobs < len(FUNCTION_NAMES):
    raise ValueError(f'num_jobs must be at least {len(FUNCTION_NAMES)} (one per function)')
  if split_mode not in pjf_corpus.SPLIT_MODES:
    raise ValueError(f'split_mode must be one of {pjf_corpus.SPLIT_MODES}, '
                     f'got {split_mode!r}')
  jobs = [_draw_job(seed, i) for i in range(num_jobs)]
  candidates = [_draw_candidate(seed, i) for i in range(num_candidates)]
  if isinstance(bias, dict):
    bias = counterfactual.PlantedBias(**bias)
  if bias:
    for i, candidate in enumerate(candidates):
      _plant(candidate, seed, i, bias)
  noise = _rng(seed, 4)
  pair_rows, truth_pairs = [], []
  for index, candidate in enumerate(candidates):
    bias_rng = _rng(seed, 8, index)
    for j in _applications(seed, candidate, jobs, pairs_per_candidate):
      job = jobs[j]
      req = unmet_requirements(candidate, job)
      pref = unmet_preferences(candidate, job)
      clean = (int(not req), int(not pref))
      flips = noise.random(2) < label_noise
      noisy = tuple(int(v ^ f) for v, f in zip(clean, flips))
      before_bias = noisy[0]
      if bias:
        turned = bias_rng.random() < bias.label_bias
        if turned and candidate['attributes'][bias.group] == bias.against:
          noisy = (0, noisy[1])
      pair_rows.append((candidate['candidate_id'], job['job_id'], noisy))
      truth_pairs.append(dict(
          candidate_id=candidate['candidate_id'], job_id=job['job_id'],
          job_accepts_noiseless=clean[0], candidate_accepts_noiseless=clean[1],
          job_accepts=noisy[0], candidate_accepts=noisy[1],
          unmet_requirements=req, unmet_preferences=pref,
          **({'job_accepts_before_bias': before_bias} if bias else {})))
  decisions = {(c, j): y for c, j, y in pair_rows}
  splits = pjf_corpus.assign_pair_splits(decisions, seed, split_mode, strata=decisions)
  pairs = [Pair(candidate_id=c, job_id=j, job_accepts=y[0], candidate_accepts=y[1],
                split=splits[(c, j)]) for c, j, y in pair_rows]
  corpus = Corpus(
      jobs={j['job_id']: Job(j['job_id'], j['title'], job_description(j, seed, i))
            for i, j in enumerate(jobs)},
      resumes={c['candidate_id']: Resume(c['candidate_id'], resume_text(c, seed, i),
                                         attributes=c.get('attributes', {}))
               for i, c in enumerate(candidates)},
      pairs=pairs, source=f'data_prep.pjf.synthetic v{GENERATOR_VERSION} seed {seed}')
  params = dict(seed=seed, num_candidates=num_candidates, num_jobs=num_jobs,
                pairs_per_candidate=pairs_per_candidate, label_noise=label_noise,
                split_mode=split_mode, **({'bias': bias.to_dict()} if bias else {}))
  truth = dict(
      generator='data_prep.pjf.synthetic', version=GENERATOR_VERSION, params=params,
      levels={str(k): v for k, v in LEVELS.items()},
      candidates={c['candidate_id']: dict(function=c['function'], skills=c['skills'],
                                          preferences=c['preferences'])
                  for c in candidates},
      jobs={j['job_id']: dict(function=j['function'], title=j['title'], sector=j['sector'],
                              city=j['city'], salary=j['salary'], contract=j['contract'],
                              requirements=j['requirements'],
                              nice_to_have=j['nice_to_have'])
            for j in jobs},
      pairs=truth_pairs)
  if bias:
    group_of = {c['candidate_id']: c['attributes'][bias.group] for c in candidates}
    values = [v for v, _ in counterfactual.GROUP_ATTRIBUTES[bias.group]]
    truth['bias'] = {
        **bias.to_dict(), 'side': 'job_accepts', 'expected_impact_ratio': 1 - bias.label_bias,
        'before_bias': counterfactual.rate_ratios({v: [
            t['job_accepts_before_bias'] for t in truth_pairs
            if group_of[t['candidate_id']] == v] for v in values}),
        'groups': counterfactual.rate_ratios({v: [
            t['job_accepts'] for t in truth_pairs if group_of[t['candidate_id']] == v]
            for v in values})}
    truth['attributes'] = {c['candidate_id']: c['attributes'] for c in candidates}
  return corpus, truth


def write(out_dir: str, **kwargs) -> str:
  """Generates (keyword arguments of `generate`) and writes the corpus with
  ground_truth.json into `out_dir`; returns `out_dir`."""
  corpus, truth = generate(**kwargs)
  pjf_corpus.write_corpus(corpus, out_dir)
  run_log.write_json(os.path.join(out_dir, pjf_corpus.GROUND_TRUTH_FILE), truth, indent=1,
                     sort_keys=False, ensure_ascii=False, end='\n')
  return out_dir


# ------------------------------------------------------------------------------ check

def _grouped_auc(pairs, scores, label: str, key: str) -> float:
  from sklearn.metrics import roc_auc_score  # pylint: disable=g-import-not-at-top
  groups: dict[str, list[int]] = {}
  for i, p in enumerate(pairs):
    groups.setdefault(getattr(p, key), []).append(i)
  aucs = []
  for idx in groups.values():
    y = [getattr(pairs[i], label) for i in idx]
    if 0 < sum(y) < len(y):
      aucs.append(roc_auc_score(y, [scores[i] for i in idx]))
  return float(np.mean(aucs)) if aucs else float('nan')


def evidence_check(corpus: Corpus, truth: dict[str, Any]) -> dict[str, float]:
  """ROC AUCs of whole-document word overlap against reading each requirement.

  `overlap`: TF-IDF cosine between resume and job description (fit on all documents).
  `rule`: the fraction of the job's requirements the candidate holds at level (job
  side) or of the candidate's four conditions the job satisfies (candidate side), read
  from the ground truth: what an interviewer asking about each one would learn. Each
  against the corpus's (noisy) labels, over all pairs and as the mean per-group AUC
  (job side grouped by job, candidate side by candidate).
  """
  # pylint: disable-next=g-import-not-at-top
  from sklearn.feature_extraction.text import TfidfVectorizer
  from sklearn.metrics import roc_auc_score  # pylint: disable=g-import-not-at-top
  jobs, resumes = list(corpus.jobs), list(corpus.resumes)
  vectorizer = TfidfVectorizer(sublinear_tf=True)
  matrix = vectorizer.fit_transform([corpus.jobs[j].description for j in jobs]
                                    + [corpus.resumes[c].text for c in resumes])
  job_row = {j: i for i, j in enumerate(jobs)}
  resume_row = {c: len(jobs) + i for i, c in enumerate(resumes)}
  pairs = corpus.pairs
  job_rows = matrix[[job_row[p.job_id] for p in pairs]]
  resume_rows = matrix[[resume_row[p.candidate_id] for p in pairs]]
  overlap = np.asarray(job_rows.multiply(resume_rows).sum(axis=1)).ravel().tolist()
  job_rule, candidate_rule = [], []
  for p in pairs:
    c, j = truth['candidates'][p.candidate_id], truth['jobs'][p.job_id]
    job_rule.append(1 - len(unmet_requirements(c, j)) / len(j['requirements']))
    candidate_rule.append(1 - len(unmet_preferences(c, j)) / 4)
  out = {}
  for side, label, key, rule in (('job', 'job_accepts', 'job_id', job_rule),
                                 ('candidate', 'candidate_accepts', 'candidate_id',
                                  candidate_rule)):
    y = [getattr(p, label) for p in pairs]
    for name, scores in (('overlap', overlap), ('rule', rule)):
      out[f'{side}_{name}_auc'] = float(roc_auc_score(y, scores))
      out[f'{side}_{name}_group_auc'] = _grouped_auc(pairs, scores, label, key)
  return out


def balance(corpus: Corpus) -> dict[str, float]:
  """Label rates and the share of groups with both a positive and a negative, per side."""
  def both(groups, label):
    return float(np.mean([0 < sum(getattr(p, label) for p in g) < len(g)
                          for g in groups.values()]))
  pairs = corpus.pairs
  return dict(
      job_accepts_rate=float(np.mean([p.job_accepts for p in pairs])),
      candidate_accepts_rate=float(np.mean([p.candidate_accepts for p in pairs])),
      match_rate=float(np.mean([p.match for p in pairs])),
      jobs_with_both=both(corpus.by_job(), 'job_accepts'),
      candidates_with_both=both(corpus.by_candidate(), 'candidate_accepts'),
      jobs_with_both_candidate_side=both(corpus.by_job(), 'candidate_accepts'),
      candidates_with_both_job_side=both(corpus.by_candidate(), 'job_accepts'))


# ------------------------------------------------------------------------------ default

DEFAULT_CORPUS = dict(seed=0, num_candidates=600, num_jobs=200, pairs_per_candidate=10,
                      label_noise=0.07, split_mode=pjf_corpus.DEFAULT_SPLIT_MODE)


def default_corpus_dir(cache_root: str | None = None) -> str:
  """Where the default corpus lives: `<root>/pjf_default_v<version>_<hash>`, root
  `cache_root`, else $HIRENET_CACHE, else ~/.cache/hirenet_jax."""
  root = cache_root or paths.cache_root()
  digest = hashlib.sha1(json.dumps(DEFAULT_CORPUS, sort_keys=True).encode()).hexdigest()
  return os.path.join(root, f'pjf_default_v{GENERATOR_VERSION}_{digest[:8]}')


def ensure_default_corpus(cache_root: str | None = None) -> str:
  """The default corpus's directory, generated there once (a few seconds).

  Written into a temporary folder renamed into place, under an exclusive lock, so
  concurrent commands neither race nor see half a corpus.
  """
  path = os.path.abspath(default_corpus_dir(cache_root))
  with cache.file_lock(path + '.lock'):
    if not os.path.isfile(os.path.join(path, pjf_corpus.GROUND_TRUTH_FILE)):
      tmp = f'{path}.tmp{os.getpid()}'
      shutil.rmtree(tmp, ignore_errors=True)
      shutil.rmtree(path, ignore_errors=True)  # Left by an interrupted older layout.
      write(tmp, **DEFAULT_CORPUS)
      os.rename(tmp, path)
  return path


def write_or_default(out_dir: str | None, **params) -> str:
  """The corpus of `params` (DEFAULT_CORPUS's keys) written to `out_dir`; without
  `out_dir`, the default corpus from the cache (ValueError for other `params`)."""
  if out_dir:
    return write(out_dir, **params)
  if params != DEFAULT_CORPUS:
    raise ValueError('an output directory is needed for a corpus other than the default')
  return ensure_default_corpus()


def check_figures(corpus_dir: str) -> dict[str, float]:
  """Label balance and the ROC AUCs of word overlap against the requirement rule."""
  corpus, _ = pjf_corpus.read_corpus(corpus_dir)
  truth = pjf_corpus.read_ground_truth(corpus_dir)
  return {**balance(corpus), **evidence_check(corpus, truth)}
