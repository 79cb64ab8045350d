"""A second synthetic person-job-fit corpus, its wording written apart from the default one.

The default synthetic corpus (data_prep.pjf.synthetic) is what the test double and the
prompts were written against, so figures on it may flatter them. This one is a held-out
check that nothing is tuned on: another world (six US job families, six US cities), resumes
written as first-person paragraphs, job ads in "What you'll do / What we need / What we
offer" sections, and phrasings of its own (docs/pjf_format.md, "Narrative corpus").

The hidden rule is a screen's: a job requires 3-4 skills, each at a level 1-3 (1 has done
it under supervision, 2 does it alone, 3 leads it and teaches it); job_accepts = every
requirement held at its level or above. A candidate's level shows only in how the resume
tells of the skill, in sentences of the same length at every level; a skill not held is
often named in passing, so naming is weak evidence. candidate_accepts = the job's
arrangement, city (unless remote), pay and shift are all among the candidate's stated
preferences. Each label is then flipped with probability label_noise.

Every random draw comes from a generator seeded by (seed, stream, index), so the same
arguments give the same bytes and one candidate's draws do not depend on another's.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from data_prep.pjf import corpus as pjf_corpus
from hirenet_jax.core import metrics
from hirenet_jax.core import run_log
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume

GENERATOR = 'data_prep.pjf.narrative'
VERSION = 1
DEFAULTS = dict(seed=0, num_candidates=400, num_jobs=120, pairs_per_candidate=8,
                label_noise=0.05, split_mode=pjf_corpus.DEFAULT_SPLIT_MODE)

# Streams of random draws; a generator is seeded by (seed, stream, index).
_JOB, _CANDIDATE, _PAIRS, _NOISE, _JOB_TEXT, _RESUME_TEXT = range(1, 7)

CITIES = ('Denver', 'Columbus', 'Raleigh', 'Sacramento', 'Pittsburgh', 'Kansas City')
ARRANGEMENTS = ('remote', 'hybrid', 'on-site')
# Each shift as the noun phrase both resumes and ads use.
SHIFTS = {
    'days': 'day shifts', 'nights': 'night shifts', 'evenings': 'evening shifts',
    'rotating': 'rotating shifts', 'weekends': 'weekend shifts',
    'early': 'early-morning starts', 'weekday': 'regular weekday hours',
    'four_tens': 'four ten-hour days',
}


@dataclasses.dataclass(frozen=True)
class Family:
  """A job family: its skills, what its jobs offer, and the words its texts are made of."""
  role: str  # What a candidate calls themselves.
  titles: tuple[str, ...]
  skills: tuple[str, ...]
  arrangements: tuple[str, ...]
  shifts: tuple[str, ...]
  pay: tuple[int, int]  # Range of the middle of a job's yearly pay band, dollars.
  employers: tuple[tuple[str, str], ...]  # (name, what it is), naming no skill.
  duties: tuple[str, ...]  # Job-ad sentences naming no skill.
  asides: tuple[str, ...]  # Resume sentences naming no skill.


FAMILIES = {
    'nursing': Family(
        role='registered nurse',
        titles=('Registered Nurse, Medical-Surgical', 'Charge Nurse', 'Telemetry Nurse',
                'Clinic Nurse'),
        skills=('wound care', 'IV therapy', 'medication reconciliation', 'patient triage',
                'telemetry monitoring', 'discharge planning', 'infection control'),
        arrangements=('on-site',), shifts=('days', 'nights', 'rotating', 'weekends'),
        pay=(62000, 104000),
        employers=(('Mercy Ridge Medical Center',
                    'a teaching hospital with a busy medical-surgical floor'),
                   ('Prairie Lakes Health', 'a network of outpatient infusion clinics'),
                   ("Saint Brendan's Hospital",
                    'a community hospital with two step-down units'),
                   ('Summit Valley Clinic', 'a walk-in clinic open seven days a week'),
                   ('Cottonwood Regional Hospital', 'a small rural hospital')),
        duties=('You will care for four to five patients a shift alongside a steady, '
                'friendly team.',
                'You will work closely with physicians, therapists and families to keep '
                'care plans on track.',
                'Our unit welcomes new graduates and seasoned nurses alike.'),
        asides=('The census climbed every winter, and I learned to stay calm when it did.',
                'I enjoy explaining things slowly to families who are frightened.',
                'I volunteer at a free health fair in my neighborhood twice a year.')),
    'logistics': Family(
        role='logistics coordinator',
        titles=('Logistics Coordinator', 'Transportation Planner', 'Shipping Coordinator',
                'Supply Chain Coordinator'),
        skills=('freight scheduling', 'warehouse management software',
                'customs documentation', 'carrier rate negotiation',
                'inventory reconciliation', 'route planning', 'hazmat shipping rules'),
        arrangements=('hybrid', 'on-site'), shifts=('weekday', 'early', 'evenings'),
        pay=(44000, 76000),
        employers=(('Ironhorse Freight', 'a regional trucking company'),
                   ('Bluewater Distribution', 'a grocery distributor'),
                   ('Keystone Parts Supply', 'an auto-parts importer'),
                   ('Redline Cold Storage', 'a refrigerated third-party warehouse'),
                   ('Harborview Logistics', 'a building-supply wholesaler')),
        duties=('You will keep trucks, docks and customers in step from the first load of '
                'the day to the last.',
                'You will be the calm voice between drivers, buyers and the warehouse '
                'floor.',
                'Our team moves a few hundred orders a day across the Midwest.'),
        asides=('Peak season taught me to keep a second plan ready for every load.',
                'I like the puzzle of fitting many small orders into a tight day.',
                'Drivers tell me I am the one dispatcher who always calls back.')),
    'marketing': Family(
        role='marketing specialist',
        titles=('Marketing Specialist', 'Digital Marketing Coordinator',
                'Campaign Manager', 'Growth Marketer'),
        skills=('paid search', 'email automation', 'market research surveys',
                'social media analytics', 'content calendars', 'event promotion',
                'brand guidelines'),
        arrangements=('remote', 'hybrid', 'on-site'),
        shifts=('weekday', 'evenings', 'weekends'), pay=(52000, 96000),
        employers=(('Fieldnote Creative', 'a small agency serving credit unions'),
                   ('Tall Pines Outfitters', 'a chain of outdoor-gear stores'),
                   ('Brightside Credit Union', 'a member-owned bank'),
                   ('Lantern Media Group', 'a publisher of local magazines'),
                   ('Copperleaf Software', 'a software startup selling to dentists')),
        duties=('You will turn what our customers tell us into campaigns they actually '
                'notice.',
                'You will work with sales and design to launch two or three new offers a '
                'quarter.',
                'Our small team values clear writing and honest numbers.'),
        asides=('I still keep a folder of the campaigns that flopped, and why.',
                'I care more about what customers remember than about clever slogans.',
                'Outside work I run the newsletter of a local hiking club.')),
    'electrical': Family(
        role='maintenance electrician',
        titles=('Maintenance Electrician', 'Electrical Technician', 'Industrial Electrician',
                'Facilities Electrician'),
        skills=('PLC troubleshooting', 'motor control circuits', 'lockout/tagout',
                'switchgear testing', 'conduit bending', 'thermal imaging inspections',
                'variable frequency drives'),
        arrangements=('on-site',), shifts=('days', 'nights', 'rotating', 'weekends'),
        pay=(56000, 98000),
        employers=(('Great Plains Packaging', 'a corrugated-box plant'),
                   ('Northfork Water Authority', 'a water treatment utility'),
                   ('Sunbelt Frozen Foods', 'a frozen-food factory'),
                   ('Alder Paper Mill', 'a paper mill running around the clock'),
                   ('Riverside Campus Facilities',
                    "the team that runs a university's forty buildings")),
        duties=('You will keep our production lines running and safe.',
                'You will work with operators and mechanics to find the cause of a fault, '
                'not just the symptom.',
                'Our maintenance crew of twelve covers the whole site.'),
        asides=('I keep my tools and my paperwork in the same good order.',
                'A line that stops at three in the morning does not worry me anymore.',
                'I finished my apprenticeship through the local union hall.')),
    'support': Family(
        role='customer support specialist',
        titles=('Customer Support Specialist', 'Support Team Lead',
                'Technical Support Representative', 'Customer Care Advocate'),
        skills=('ticket triage', 'live chat support', 'billing disputes',
                'knowledge base writing', 'escalation handling', 'call quality reviews',
                'CRM administration'),
        arrangements=('remote', 'hybrid', 'on-site'),
        shifts=('days', 'evenings', 'nights', 'weekends'), pay=(36000, 64000),
        employers=(('Beacon Broadband', 'a home-internet provider'),
                   ('Parcel & Pantry', 'a meal-kit subscription company'),
                   ('Ledgerly Payroll', 'a payroll software vendor'),
                   ('SkyHop Airlines', 'a regional airline'),
                   ('Homestead Insurance', 'a home and auto insurer')),
        duties=('You will help customers who are often frustrated by the time they reach '
                'us.',
                'You will pass what customers tell you back to the product team.',
                'Our support team answers around two thousand contacts a week.'),
        asides=('Angry customers do not rattle me; I let them finish before I answer.',
                'I am proud of how many people leave a conversation with me smiling.',
                'I type fast and I write short, friendly messages.')),
    'civil': Family(
        role='civil engineer',
        titles=('Civil Engineer', 'Project Engineer', 'Site Development Engineer',
                'Transportation Engineer'),
        skills=('stormwater design', 'site grading plans', 'Civil 3D drafting',
                'traffic impact studies', 'construction inspection', 'permit applications',
                'pavement design'),
        arrangements=('hybrid', 'on-site'), shifts=('weekday', 'four_tens', 'early'),
        pay=(68000, 124000),
        employers=(('Granite Line Engineering', 'a consultancy designing school campuses'),
                   ('Mesa County Public Works', 'a county public-works department'),
                   ('Bridgewell Consultants', 'a firm working on state highway widening'),
                   ('Tallgrass Land Development', 'a land-development company'),
                   ('Corridor Design Partners', 'a transportation design firm')),
        duties=('You will take projects from the first site visit to the ribbon cutting.',
                'You will work with surveyors, contractors and city reviewers every week.',
                'Our office of thirty engineers works mostly on public projects.'),
        asides=('I passed the professional engineering exam on my first attempt.',
                'I like being on a muddy site in the morning and at my desk after lunch.',
                'I coach a youth soccer team on Saturday mornings.')),
}
FAMILY_NAMES = tuple(FAMILIES)

# How a resume tells of a skill at each level (0 = not held, named in passing). Every
# sentence has 22-24 words besides the skill, so length says nothing of the level.
LEVEL_SENTENCES = {
    0: ('My previous employer outsourced {skill} to an outside firm, so I only ever saw the '
        'finished reports and never did any of it myself.',
        'A separate team looked after {skill} at my last job, and my part stopped at '
        'passing them the information they asked me for.',
        'I have read a little about {skill} out of curiosity, but it has never been part of '
        'any role I have held so far.',
        '{Skill} came up in our meetings now and then, but that work belonged to another '
        'group and I never had a reason to learn it.',
        'We had a contractor who handled {skill} whenever it was needed, so I have no '
        'hands-on experience with it at all, honestly.',
        'I know the value of {skill} in this field, although in my jobs it was always '
        "somebody else's responsibility rather than mine."),
    1: ('I have shadowed colleagues who do {skill}, and I now take the simpler cases myself '
        'while someone senior checks what I did.',
        'I finished an introductory course in {skill} last year and have practised it a '
        'handful of times, always with a supervisor close by.',
        'I am still fairly new to {skill}: I know the basic steps and follow the written '
        'checklist, but I ask before anything unusual.',
        'When we were short-staffed I helped out with {skill} under close supervision, which '
        'gave me a first real feel for how it works.',
        'My experience with {skill} is at the beginner stage; I have assisted on it several '
        'times but have not yet been trusted alone.',
        'I sat in on {skill} with an experienced coworker for a few months and can handle '
        'the routine parts if somebody reviews them afterwards.'),
    2: ('I run {skill} on my own from start to finish, including the awkward cases that '
        "used to land on my supervisor's desk.",
        'For the past few years my regular week has included {skill}, and I sort out the '
        'usual problems without asking anyone for help.',
        'Nobody double-checks my {skill} work anymore; I plan it, carry it out and document '
        'it by myself as a normal part of the job.',
        'I handle {skill} independently every week and only bring in a senior colleague '
        'when something truly out of the ordinary comes up.',
        'Day to day I take care of {skill} without supervision, and my manager relies on me '
        'to get it right the first time.',
        'I am fully comfortable doing {skill} alone, and I have covered it for the whole '
        'group for weeks when the usual person was away.'),
    3: ('I trained the team on {skill}, wrote the procedure we still use, and people across '
        'the department bring me their hardest cases.',
        'I designed how we approach {skill} from the ground up and have coached a dozen '
        'newer colleagues until they could do it alone.',
        'Other sites borrow me when their {skill} work goes wrong; I audit it, fix the '
        'process and teach their staff to keep it running.',
        'I am the person who sets the standard for {skill} here: I review everyone else\'s '
        'work and run the refresher sessions each quarter.',
        'I built our {skill} program after the old approach failed an audit, and I have led '
        'it and mentored the people in it since.',
        'Managers ask me to untangle the hardest {skill} problems, and I have taught it to '
        'every new hire in our group for three years.'),
}
# How an ad asks for a skill at each level.
REQUIREMENT_PHRASES = {
    1: ('some hands-on exposure to {skill}, even if only under supervision',
        'a basic grounding in {skill}; we will help you grow from there',
        'familiarity with {skill} (a course or a few supervised months is enough)'),
    2: ('the ability to do {skill} on your own without day-to-day oversight',
        'solid, independent experience with {skill}',
        'a track record of handling {skill} unsupervised'),
    3: ('the depth to lead {skill} and teach it to others',
        'expert-level {skill}: you will set our standard and train the team',
        'several years of owning {skill}, including coaching colleagues'),
}
FIRST_NAMES = ('Dana', 'Marcus', 'Priya', 'Tomás', 'Keisha', 'Ethan', 'Mei', 'Jordan',
               'Rosa', 'Darnell', 'Hannah', 'Luis', 'Aaliyah', 'Caleb', 'Nguyen', 'Brianna',
               'Omar', 'Leah', 'Terrence', 'Sofia', 'Wyatt', 'Imani', 'Grant', 'Yesenia')
LAST_NAMES = ('Ortiz', 'Whitaker', 'Patel', 'Okafor', 'Lindqvist', 'Reyes', 'Chen',
              'Brooks', 'Delgado', 'Hughes', 'Kowalski', 'Ramirez', 'Tran', 'Jefferson',
              'Novak', 'Castillo', 'Bennett', 'Yamada', 'Sullivan', 'Haddad')

# Draws. A job requires 3-4 skills at levels 1/2/3 with these weights. A candidate is built
# around NUM_ANCHORS of their family's jobs (the openings they were looking at): a skill an
# anchor requires is held near the asked level, the others by the candidate's seniority,
# and each preference admits the first anchor's offer; so every candidate has jobs they fit
# and near misses among the others. Tuned for balanced labels on the default sizes (seed
# 0: job accepts 50%, candidate accepts 44%, both 23%).
REQUIREMENT_LEVEL_P = (0.35, 0.40, 0.25)
NUM_ANCHORS = 3
ANCHOR_DELTA = ((-1, 0, 1), (0.12, 0.40, 0.48))  # Level minus the anchor's requirement.
SENIORITY_LEVEL_P = ((0.20, 0.30, 0.30, 0.20),  # Levels 0-3 of the other skills, junior,
                     (0.10, 0.20, 0.35, 0.35),  # mid-career
                     (0.05, 0.10, 0.30, 0.55))  # and senior.
ANCHOR_PREFERENCE_P = 0.8  # Each preference admits the first anchor's offer this often.
OTHER_OPTION_P = 0.75  # Each other arrangement or shift is accepted this often.
EXTRA_CITIES = (2, 5)  # Cities besides home: from 2 to 4.
PAY_MARGIN = (0.1, 0.4)  # An anchored minimum pay: the anchor's top less this x the range.
MENTION_LACKING_P = 0.85  # A skill not held is named in passing this often.
NEAR_MISS_WEIGHT = 4.0  # Negatives short of one requirement level or one preference.


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
  return np.random.default_rng([seed, stream, index])


def _pick(rng: np.random.Generator, options):
  return options[int(rng.integers(len(options)))]


def _subset(rng: np.random.Generator, options, keep: str | None, p: float) -> list[str]:
  """`keep` (if given) and each other option with probability p, in `options` order;
  never empty."""
  chosen = [o for o in options if o == keep or rng.random() < p]
  return chosen or [_pick(rng, options)]


def _draw_job(seed: int, index: int) -> dict[str, Any]:
  rng = _rng(seed, _JOB, index)
  name = FAMILY_NAMES[index % len(FAMILY_NAMES)]
  family = FAMILIES[name]
  skills = [family.skills[i] for i in rng.permutation(len(family.skills))]
  num_required = int(rng.integers(3, 5))
  levels = rng.choice(3, size=num_required, p=REQUIREMENT_LEVEL_P) + 1
  requirements = {s: int(l) for s, l in zip(skills[:num_required], levels)}
  nice = [skills[num_required]] if rng.random() < 0.5 else []
  middle = rng.uniform(*family.pay)
  return dict(
      family=name, title=_pick(rng, family.titles),
      employer=_pick(rng, family.employers)[0],
      requirements=requirements, nice_to_have=nice,
      conditions=dict(arrangement=_pick(rng, family.arrangements),
                      city=_pick(rng, CITIES), shift=_pick(rng, family.shifts),
                      pay_low=int(round(middle * 0.88, -3)),
                      pay_high=int(round(middle * 1.12, -3))))


def _draw_candidate(seed: int, index: int, jobs_of_family: list[dict]) -> dict[str, Any]:
  rng = _rng(seed, _CANDIDATE, index)
  name = FAMILY_NAMES[index % len(FAMILY_NAMES)]
  family = FAMILIES[name]
  anchors = [jobs_of_family[int(i)] for i in
             rng.permutation(len(jobs_of_family))[:NUM_ANCHORS]]
  seniority = int(rng.integers(len(SENIORITY_LEVEL_P)))
  levels = {}
  for skill in family.skills:
    wanted = max((a['requirements'].get(skill, 0) for a in anchors), default=0)
    if wanted:
      delta = rng.choice(ANCHOR_DELTA[0], p=ANCHOR_DELTA[1])
      levels[skill] = int(np.clip(wanted + delta, 0, 3))
    else:
      levels[skill] = int(rng.choice(4, p=SENIORITY_LEVEL_P[seniority]))
  offer = anchors[0]['conditions'] if anchors else None

  def anchored(key):
    return offer[key] if offer and rng.random() < ANCHOR_PREFERENCE_P else None

  home = anchored('city') or _pick(rng, CITIES)
  others = [c for c in CITIES if c != home]
  extra = [others[int(i)]
           for i in rng.permutation(len(others))[:int(rng.integers(*EXTRA_CITIES))]]
  lo, hi = family.pay
  pay_high = anchored('pay_high')
  min_pay = (pay_high - rng.uniform(*PAY_MARGIN) * (hi - lo) if pay_high
             else rng.uniform(lo, hi))
  return dict(
      family=name, name=f'{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}',
      years=int(rng.integers(2, 19)), levels=levels,
      preferences=dict(
          arrangements=_subset(rng, family.arrangements, anchored('arrangement'),
                               OTHER_OPTION_P),
          cities=[home] + extra, min_pay=int(round(min_pay, -3)),
          shifts=_subset(rng, family.shifts, anchored('shift'), OTHER_OPTION_P)))


def unmet_requirements(levels: dict[str, int], requirements: dict[str, int]
                       ) -> list[dict[str, Any]]:
  """The job's requirements the candidate holds below the asked level."""
  return [dict(skill=s, required=r, held=levels.get(s, 0))
          for s, r in requirements.items() if levels.get(s, 0) < r]


def unmet_preferences(preferences: dict[str, Any], conditions: dict[str, Any]
                      ) -> list[dict[str, Any]]:
  """The candidate's preferences the job's conditions fail (a remote job has no city)."""
  unmet = []
  if conditions['arrangement'] not in preferences['arrangements']:
    unmet.append(dict(preference='arrangement', offered=conditions['arrangement']))
  if (conditions['arrangement'] != 'remote'
      and conditions['city'] not in preferences['cities']):
    unmet.append(dict(preference='city', offered=conditions['city']))
  if conditions['pay_high'] < preferences['min_pay']:
    unmet.append(dict(preference='pay', offered=conditions['pay_high'],
                      wanted=preferences['min_pay']))
  if conditions['shift'] not in preferences['shifts']:
    unmet.append(dict(preference='shift', offered=conditions['shift']))
  return unmet


def _is_near_miss(unmet_reqs, unmet_prefs) -> bool:
  """One requirement short by one level, or one preference failed."""
  return ((len(unmet_reqs) == 1 and unmet_reqs[0]['required'] - unmet_reqs[0]['held'] == 1)
          or len(unmet_prefs) == 1)


def _sample_pairs(rng: np.random.Generator, outcomes: list[tuple], k: int) -> list[int]:
  """Indices of `outcomes` ((job_accepts, candidate_accepts, near_miss) per job) to pair.

  A quarter from each cell of the two decisions, as a platform samples positives and
  negatives; near misses weigh NEAR_MISS_WEIGHT among negatives; a cell with too few jobs
  leaves its slots to the cell with the fewest so far.
  """
  cells = [(1, 1), (1, 0), (0, 1), (0, 0)]
  members = {c: [i for i, o in enumerate(outcomes) if o[:2] == c] for c in cells}
  k = min(k, len(outcomes))
  quota = {c: k // 4 for c in cells}
  for j in rng.permutation(4)[:k % 4]:
    quota[cells[j]] += 1
  shortfall = 0
  for c in cells:
    take = min(quota[c], len(members[c]))
    shortfall += quota[c] - take
    quota[c] = take
  order = [cells[j] for j in rng.permutation(4)]
  while shortfall:
    open_cells = [c for c in order if quota[c] < len(members[c])]
    c = min(open_cells, key=lambda c: quota[c])
    quota[c] += 1
    shortfall -= 1
  chosen = []
  for c in cells:
    if not quota[c]:
      continue
    weights = np.array([NEAR_MISS_WEIGHT if (c != (1, 1) and outcomes[i][2]) else 1.0
                        for i in members[c]])
    picks = rng.choice(len(members[c]), size=quota[c], replace=False,
                       p=weights / weights.sum())
    chosen += [members[c][int(p)] for p in picks]
  return sorted(chosen)


def _years(n: int) -> str:
  return 'a year' if n == 1 else f'{n} years'


def _cap(text: str) -> str:
  return text[:1].upper() + text[1:]


def _join(items) -> str:
  items = list(items)
  return items[0] if len(items) == 1 else f'{", ".join(items[:-1])} or {items[-1]}'


def _skill_sentences(rng: np.random.Generator, levels: dict[str, int]) -> list[str]:
  """One sentence per skill telling its level (a skill not held: MENTION_LACKING_P of the
  time), each level's phrasings dealt without repeats until they run out, in random order."""
  decks: dict[int, list[int]] = {}
  out = []
  for skill, level in levels.items():
    if not level and rng.random() >= MENTION_LACKING_P:
      continue
    if not decks.get(level):
      decks[level] = [int(i) for i in rng.permutation(len(LEVEL_SENTENCES[level]))]
    out.append(LEVEL_SENTENCES[level][decks[level].pop()].format(skill=skill,
                                                                 Skill=_cap(skill)))
  return [out[int(i)] for i in rng.permutation(len(out))]


def _preference_sentences(rng: np.random.Generator, family: Family, prefs: dict
                          ) -> list[str]:
  out = []
  accepted = prefs['arrangements']
  refused = [a for a in family.arrangements if a not in accepted]
  if refused:
    out.append(_pick(rng, (
        f'I am looking for {_join(accepted)} work; {_join(refused)} arrangements do not '
        'suit me.',
        f'I would only consider {_join(accepted)} roles from here on.',
        f'{_cap(_join(refused))} positions are not for me, but {_join(accepted)} would be '
        'fine.')))
  elif len(accepted) > 1:
    out.append(f'I am open to {_join(accepted)} work.')
  home, *more = prefs['cities']
  out.append(_pick(rng, (
      f'I live in {home} and could also work in {_join(more)}.',
      f'Location-wise, I am happy in {_join([home] + more)}.',
      f'I would move to {_join(more)} for the right job, though I would rather stay in '
      f'{home}.')))
  pay = f'${prefs["min_pay"]:,}'
  out.append(_pick(rng, (
      f'I need at least {pay} a year.',
      f'Anything under {pay} a year would not cover my costs.',
      f'My floor for salary is {pay} annually.',
      f'I cannot accept less than {pay} per year.')))
  ok = [SHIFTS[s] for s in prefs['shifts']]
  not_ok = [SHIFTS[s] for s in family.shifts if s not in prefs['shifts']]
  if not_ok:
    out.append(_pick(rng, (
        f'I can work {_join(ok)}, but not {_join(not_ok)}.',
        f'{_cap(_join(not_ok))} do not work for my family; {_join(ok)} are fine.',
        f'Schedule matters to me: {_join(ok)} suit me, {_join(not_ok)} do not.')))
  else:
    out.append(f'I am flexible about scheduling: {_join(ok)} all work for me.')
  return [out[int(i)] for i in rng.permutation(len(out))]


def resume_text(seed: int, index: int, candidate: dict) -> str:
  """The candidate's resume: first-person paragraphs; skill levels only in the telling."""
  rng = _rng(seed, _RESUME_TEXT, index)
  family = FAMILIES[candidate['family']]
  years = candidate['years']
  recent = int(rng.integers(1, years))
  first, second = (family.employers[int(i)] for i in
                   rng.permutation(len(family.employers))[:2])
  intro = [_pick(rng, (
      f'My name is {candidate["name"]}, and I have spent {years} years working as a '
      f'{family.role}.',
      f'I am {candidate["name"]}, a {family.role} with {years} years of experience.',
      f'I am {candidate["name"]}. For {years} years I have worked as a {family.role}.'))]
  skill_sentences = _skill_sentences(rng, candidate['levels'])
  asides = [family.asides[int(i)] for i in rng.permutation(len(family.asides))[:2]]
  cut = int(rng.integers(1, len(skill_sentences))) if len(skill_sentences) > 1 else 1
  now = [_pick(rng, (
      f'For the last {_years(recent)} I have worked at {first[0]}, {first[1]}.',
      f'I joined {first[0]}, {first[1]}, {_years(recent)} ago.',
      f'My current employer is {first[0]}, {first[1]}, where I started '
      f'{_years(recent)} ago.'))] + skill_sentences[:cut] + asides[:1]
  before = [_pick(rng, (
      f'Before that I spent {_years(years - recent)} at {second[0]}, {second[1]}.',
      f'Earlier I worked at {second[0]}, {second[1]}, for {_years(years - recent)}.'))
  ] + skill_sentences[cut:] + asides[1:]
  prefs = _preference_sentences(rng, family, candidate['preferences'])
  paragraphs = [intro, now, before]
  paragraphs.insert(1 if rng.random() < 0.4 else 3, prefs)
  return '\n\n'.join(' '.join(p) for p in paragraphs if p)


def _offer_lines(conditions: dict) -> list[str]:
  city = conditions['city']
  where = {'remote': f'fully remote (our team is based in {city})',
           'hybrid': f'hybrid: two or three days a week in our {city} office',
           'on-site': f'on site in {city}'}[conditions['arrangement']]
  return [f'- Pay: ${conditions["pay_low"]:,} to ${conditions["pay_high"]:,} a year',
          f'- Schedule: {SHIFTS[conditions["shift"]]}', f'- Where: {where}']


def job_description(seed: int, index: int, job: dict) -> str:
  """The job ad: what you'll do, what we need (the requirements at their levels), what we
  offer (the conditions)."""
  rng = _rng(seed, _JOB_TEXT, index)
  family = FAMILIES[job['family']]
  conditions = job['conditions']
  place = ('remote' if conditions['arrangement'] == 'remote'
           else f'in {conditions["city"]}')
  duties = [family.duties[int(i)] for i in rng.permutation(len(family.duties))[:2]]
  what = dict(family.employers)[job['employer']]
  article = 'an' if job['title'][0] in 'AEIOU' else 'a'
  do = [f'{job["employer"]}, {what}, is hiring {article} {job["title"]} ({place}).'] + duties
  needs = [f'- {_pick(rng, REQUIREMENT_PHRASES[level]).format(skill=skill)}'
           for skill, level in job['requirements'].items()]
  needs = [needs[int(i)] for i in rng.permutation(len(needs))]
  needs += [f'- Nice to have, not required: {skill}' for skill in job['nice_to_have']]
  perks = _pick(rng, ('- Health, dental and vision cover from day one',
                      '- A yearly training budget and paid certification exams',
                      '- Matched retirement savings and generous paid leave'))
  return '\n'.join(['What you\'ll do', ' '.join(do), '', 'What we need', *needs, '',
                    'What we offer', *_offer_lines(conditions), perks])


def generate(seed: int = DEFAULTS['seed'], num_candidates: int = DEFAULTS['num_candidates'],
             num_jobs: int = DEFAULTS['num_jobs'],
             pairs_per_candidate: int = DEFAULTS['pairs_per_candidate'],
             label_noise: float = DEFAULTS['label_noise'],
             split_mode: str = DEFAULTS['split_mode']) -> tuple[Corpus, dict[str, Any]]:
  """The narrative corpus and its ground truth (what every text and label came from).

  Candidates and jobs take the families in turn; each candidate is paired with up to
  `pairs_per_candidate` jobs of their family (`_sample_pairs`). Splits are assigned as
  read_corpus would (`split_mode`, seeded by `seed`, strata = the noisy decisions).
  """
  if num_jobs < len(FAMILIES) or num_candidates < 1 or pairs_per_candidate < 1:
    raise ValueError(f'need num_jobs >= {len(FAMILIES)} (one per family), '
                     'num_candidates >= 1 and pairs_per_candidate >= 1')
  if not 0.0 <= label_noise <= 1.0:
    raise ValueError(f'label_noise must be in [0, 1], got {label_noise}')
  jobs = {f'j{i:04d}': _draw_job(seed, i) for i in range(num_jobs)}
  by_family = {f: [(jid, j) for jid, j in jobs.items() if j['family'] == f]
               for f in FAMILIES}
  candidates = {f'c{i:04d}': _draw_candidate(
      seed, i, [j for _, j in by_family[FAMILY_NAMES[i % len(FAMILY_NAMES)]]])
      for i in range(num_candidates)}
  truth_pairs = []
  for index, (cid, candidate) in enumerate(candidates.items()):
    family_jobs = by_family[candidate['family']]
    outcomes, details = [], []
    for _, job in family_jobs:
      reqs = unmet_requirements(candidate['levels'], job['requirements'])
      prefs = unmet_preferences(candidate['preferences'], job['conditions'])
      outcomes.append((int(not reqs), int(not prefs), _is_near_miss(reqs, prefs)))
      details.append((reqs, prefs))
    for i in _sample_pairs(_rng(seed, _PAIRS, index), outcomes, pairs_per_candidate):
      truth_pairs.append(dict(candidate_id=cid, job_id=family_jobs[i][0],
                              job_accepts_true=outcomes[i][0],
                              candidate_accepts_true=outcomes[i][1],
                              unmet_requirements=details[i][0],
                              unmet_preferences=details[i][1]))
  for index, p in enumerate(truth_pairs):
    flip = _rng(seed, _NOISE, index).random(2) < label_noise
    p['job_accepts'] = int(p['job_accepts_true'] ^ flip[0])
    p['candidate_accepts'] = int(p['candidate_accepts_true'] ^ flip[1])
  decisions = {(p['candidate_id'], p['job_id']): (p['job_accepts'], p['candidate_accepts'])
               for p in truth_pairs}
  splits = pjf_corpus.assign_pair_splits(decisions, seed, split_mode, strata=decisions)
  corpus = Corpus(
      jobs={jid: Job(job_id=jid, title=j['title'],
                     description=job_description(seed, i, j))
            for i, (jid, j) in enumerate(jobs.items())},
      resumes={cid: Resume(candidate_id=cid, text=resume_text(seed, i, c))
               for i, (cid, c) in enumerate(candidates.items())},
      pairs=[Pair(candidate_id=p['candidate_id'], job_id=p['job_id'],
                  job_accepts=p['job_accepts'], candidate_accepts=p['candidate_accepts'],
                  split=splits[(p['candidate_id'], p['job_id'])]) for p in truth_pairs])
  truth = dict(
      generator=GENERATOR, version=VERSION,
      params=dict(seed=seed, num_candidates=num_candidates, num_jobs=num_jobs,
                  pairs_per_candidate=pairs_per_candidate, label_noise=label_noise,
                  split_mode=split_mode),
      candidates=candidates, jobs=jobs, pairs=truth_pairs)
  return corpus, truth


def write(out_dir: str, **kwargs) -> str:
  """Generates the corpus (kwargs of `generate`) and writes it with ground_truth.json into
  `out_dir`; returns out_dir."""
  corpus, truth = generate(**kwargs)
  pjf_corpus.write_corpus(corpus, out_dir)
  run_log.write_json(os.path.join(out_dir, pjf_corpus.GROUND_TRUTH_FILE), truth, indent=1,
                     end='\n')
  return out_dir


def overlap_scores(corpus: Corpus, truth: dict[str, Any]) -> list[float]:
  """Per pair, the share of the job's required skills whose name the resume contains: the
  word-overlap baseline that the passing mentions are there to defeat."""
  scores = []
  for p in corpus.pairs:
    text = corpus.resumes[p.candidate_id].text.lower()
    required = truth['jobs'][p.job_id]['requirements']
    scores.append(float(np.mean([s.lower() in text for s in required])))
  return scores


def label_figures(corpus: Corpus, truth: dict[str, Any]) -> dict[str, float]:
  """Label balance of the pairs and the ROC AUC of skill-name overlap against job_accepts."""
  ja = [p.job_accepts for p in corpus.pairs]
  ca = [p.candidate_accepts for p in corpus.pairs]
  return dict(
      job_accepts_rate=float(np.mean(ja)),
      candidate_accepts_rate=float(np.mean(ca)),
      match_rate=float(np.mean([p.match for p in corpus.pairs])),
      job_overlap_auc=metrics.roc_auc(ja, overlap_scores(corpus, truth)))
