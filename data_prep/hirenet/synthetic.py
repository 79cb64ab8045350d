"""Synthetic interview corpus whose hirability cue needs HireNet's hypotheses.

Writes the raw corpus format (`interviews.jsonl` + `audio/*.wav` + `openface/*.csv`) with a
planted cue that is learnable only from (H1) the order of two events inside an answer,
(H4 local) on the key question types of (H4 global) the candidate's job family; see
docs/synthetic_corpus.md. `ground_truth.jsonl` records where the cue lies.

The command is `python -m data_prep.synthetic` (generate_corpus); the commands that
need the default corpus call ensure_default_corpus.

Every random draw comes from a generator seeded by (seed, stream, candidate, answer), and
the whole plan (text, media timings, missing media) is drawn whatever the modalities, so a
corpus built in several passes is byte-identical to one built at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import time
from typing import Iterable, Sequence

from absl import logging
import numpy as np
from scipy import ndimage
from scipy import signal as sp_signal
import soundfile

from data_prep import file_lock as cache
from data_prep.hirenet import video
from hirenet_jax.core import counterfactual
from hirenet_jax.core import paths
from hirenet_jax.core import run_log
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet.dataset_spec import MODALITIES

GENERATOR_VERSION = 2
SAMPLE_RATE = 16000

# Events. X and Y carry the cue through their order; Z and W are distractors.
EVENT_X, EVENT_Y = 'X', 'Y'

# The good order of the cue events in a key answer, for every family. (With an order that
# depends on the family, e.g. YX for the same `situation` question in another family, the
# classifier would need the family, which reaches it only through the high-level attention:
# HireNet then learnt the labels from other routes and its question attention stayed near
# chance in the run tried, 0.36 against 0.27; see docs/synthetic_corpus.md.)
GOOD_ORDER = EVENT_X + EVENT_Y

# Job families: titles and key question types (H4: which answers matter depends on the job).
FAMILIES = {
    'vente': dict(
        titles=('Conseiller de vente', 'Vendeur en magasin', 'Commercial terrain',
                'Attaché commercial', "Chargé d'affaires"),
        specialties=('prêt-à-porter', 'électroménager', 'grande distribution', 'automobile',
                     'téléphonie', 'ameublement'),
        key_types=('experience', 'situation')),
    'relation_client': dict(
        titles=('Conseiller clientèle banque', 'Chargé de clientèle', 'Téléconseiller',
                'Conseiller relation client à distance'),
        specialties=('banque', 'assurance', 'énergie', 'télécoms', 'mutuelle'),
        key_types=('situation',)),
    'support': dict(
        titles=('Technicien support informatique', 'Technicien helpdesk',
                'Conseiller support technique'),
        specialties=('niveau 1', 'niveau 2', 'logiciels métier', 'réseaux', 'matériel'),
        key_types=('experience', 'situation')),
    'logistique': dict(
        titles=('Préparateur de commandes', 'Agent logistique', 'Magasinier cariste',
                "Chef d'équipe entrepôt"),
        specialties=('e-commerce', 'frais', 'pièces détachées', 'messagerie', 'textile'),
        key_types=('motivation',)),
}
FAMILY_NAMES = tuple(FAMILIES)
QUESTION_TYPES = ('presentation', 'motivation', 'experience', 'situation', 'conclusion')

_FAMILY_WORDS = {
    'vente': dict(lieu='le magasin', objet='les ventes', public='les clients',
                  tache='conseiller les clients', outil='la caisse'),
    'relation_client': dict(lieu="l'agence", objet='les dossiers', public='les clients',
                            tache='répondre aux demandes', outil='le logiciel de gestion'),
    'support': dict(lieu='le centre de support', objet='les incidents',
                    public='les utilisateurs', tache='résoudre les pannes',
                    outil="l'outil de tickets"),
    'logistique': dict(lieu="l'entrepôt", objet='les commandes', public="l'équipe",
                       tache='préparer les colis', outil='le chariot'),
}

# Question banks are the same for every job family: the job title is the only place where
# the family shows (see `_plan_candidate`).
_QUESTIONS = {
    'presentation': ('Présentez-vous en quelques mots.',
                     'Pouvez-vous nous parler de votre parcours ?',
                     'Parlez-nous de vous et de votre situation actuelle.'),
    'motivation': ('Pourquoi souhaitez-vous occuper ce poste ?',
                   "Qu'est-ce qui vous motive dans ce poste ?",
                   'Pourquoi avez-vous postulé chez nous ?'),
    'experience': ('Décrivez une expérience où vous avez dû gérer une forte charge de travail.',
                   'Parlez-nous de votre dernière expérience professionnelle.',
                   'Racontez une réussite dont vous êtes fier.'),
    'situation': ('Comment réagissez-vous face à une situation tendue ?',
                  'Que faites-vous si le travail prend du retard ?',
                  'Un imprévu arrive : comment vous organisez-vous ?'),
    'conclusion': ('Avez-vous une question ou un dernier mot ?',
                   'Quelles sont vos disponibilités ?',
                   'Pourquoi devrions-nous vous choisir ?'),
}

# Cue phrases: three paraphrases per event, so a model must learn the event, not a string.
_EVENT_PHRASES = {
    EVENT_X: ("je prends le temps d'écouter", "je commence par écouter attentivement",
              "j'écoute d'abord avec attention"),
    EVENT_Y: ("je passe rapidement à l'action", "j'agis tout de suite sans attendre",
              'je propose immédiatement une solution'),
    'Z': ('je reste toujours très motivé', 'je suis quelqu\'un de motivé'),
    'W': ("le travail en équipe c'est important", "j'aime bien travailler en équipe"),
}

_FILLERS = {
    'presentation': (
        "je m'appelle {prenom} j'ai {age} ans", "j'habite à {ville} depuis {annees} ans",
        "j'ai un diplôme en {domaine}", "j'ai travaillé {annees} ans dans {lieu}",
        "actuellement je suis à la recherche d'un emploi", "je suis {qualite} et {qualite}",
        "mes loisirs sont {loisir} et {loisir}", "avant j'étais {metier} à {ville}",
    ),
    'motivation': (
        "ce poste correspond à mon projet professionnel", "j'aime {tache}",
        "votre entreprise a une très bonne réputation", "je veux évoluer dans {domaine}",
        "le contact avec {public} me plaît beaucoup", "je cherche un poste stable à {ville}",
        "je pense que je suis {qualite}", "j'ai envie d'apprendre de nouvelles choses",
    ),
    'experience': (
        "dans mon ancien poste je devais {tache}", "on avait beaucoup de travail avec {objet}",
        "j'utilisais tous les jours {outil}", "mon responsable était très content de moi",
        "on gérait environ {nombre} {unite} par jour", "j'ai été formé sur {outil}",
        "c'était dans {lieu} à {ville}", "j'ai dû m'adapter très vite",
    ),
    'situation': (
        "il faut rester calme et {qualite}", "dans ce cas je préviens mon responsable",
        "il faut bien comprendre le problème", "je vérifie {objet} une deuxième fois",
        "par exemple une fois {public} étaient mécontents", "on cherche ensemble une solution",
        "le plus important c'est {public}", "j'essaie de garder le sourire",
    ),
    'conclusion': (
        "je suis disponible dès {jour}", "merci pour votre attention",
        "j'espère avoir bientôt de vos nouvelles", "je n'ai pas d'autre question",
        "je serais ravi de rejoindre votre équipe", "je peux venir pour un entretien {jour}",
        "je suis {qualite} et {qualite}", "voilà c'est tout pour moi",
    ),
}
_GENERIC = (
    "c'est vrai que c'est un métier qui me plaît", 'voilà', 'en fait', 'donc voilà',
    "je pense que c'est important", "c'est pour ça que je suis là", 'euh', 'bon',
    "je sais m'organiser", "j'ai beaucoup appris", "c'est une bonne question",
    'comment dire', "je suis {qualite}", "ça s'est bien passé",
)
_SLOTS = dict(
    prenom=('Julie', 'Karim', 'Sophie', 'Thomas', 'Nadia', 'Lucas', 'Inès', 'Hugo', 'Camille',
            'Mehdi', 'Laura', 'Antoine'),
    age=('vingt', 'vingt-deux', 'vingt-cinq', 'trente', 'trente-quatre', 'quarante'),
    ville=('Paris', 'Lyon', 'Marseille', 'Lille', 'Nantes', 'Toulouse', 'Bordeaux', 'Rennes'),
    annees=('deux', 'trois', 'cinq', 'huit', 'dix'),
    domaine=('commerce', 'gestion', 'informatique', 'logistique', 'communication', 'vente'),
    qualite=('dynamique', 'rigoureux', 'souriant', 'patient', 'autonome', 'sérieux',
             'ponctuel', 'curieux', 'polyvalent', 'organisé'),
    loisir=('le sport', 'la lecture', 'la musique', 'le football', 'la cuisine', 'les voyages'),
    metier=('serveur', 'caissier', 'hôte d\'accueil', 'livreur', 'étudiant', 'animateur'),
    nombre=('vingt', 'cinquante', 'cent', 'deux cents'),
    unite=('appels', 'clients', 'commandes', 'tickets', 'colis'),
    jour=('lundi', 'la semaine prochaine', 'le mois prochain', 'demain'),
)

# Questions per interview: mostly the five types; sometimes a second situational question
# or no closing question (mean about 5.05, as in Table 2 of the paper).
_EXTRA_QUESTION_P = 0.08
_DROP_CONCLUSION_P = 0.03
_LENGTH_SIGMA = 0.3          # lognormal spread of answer length (words and seconds alike).
_CANDIDATES_PER_POSITION = 16.0  # paper: 7938 candidates / 475 positions.
_HIRABLE_LOGIT = -0.26  # gives about 45% hirable after the position spread and label noise.
_NON_KEY_CUE_P = 0.6         # each cue event also appears in a non-key answer with this p.
_DISTRACTOR_P = 0.5          # each distractor phrase appears in any answer with this p.

# Planted bias (docs/fairness.md), off by default; its draws come from their own random
# stream, so turning it on changes no other draw.
Bias = counterfactual.PlantedBias
GROUP_ATTRIBUTES = counterfactual.GROUP_ATTRIBUTES
draw_attributes = counterfactual.draw_attributes
_PROXY_P = 0.5  # gender_proxy: each answer ends with a gendered self-description.
_PROXY_PHRASES = ('je suis vraiment motivé', "je suis prêt à m'investir",
                  'je suis certain de pouvoir réussir', 'je suis très motivé pour ce poste',
                  'je suis prêt à apprendre')


@dataclasses.dataclass
class AnswerPlan:
  """Everything about one answer, drawn before any media is rendered."""
  question: str
  question_type: str
  key: bool
  order: str | None            # 'XY', 'YX', 'X', 'Y' or None: cue events in time order.
  good: bool | None            # key answers only: the order is the family's good one.
  transcript: str
  text_spans: list             # [{'event', 'words': [s, e), 'chars': [s, e)}]
  seconds: float
  event_times: list            # [(event, center in seconds)] for audio and video.
  has_audio: bool
  has_video: bool

  def has(self, modality: str) -> bool:
    """Whether this answer has a media file of a frame modality."""
    return {'audio': self.has_audio, 'video': self.has_video}[modality]


@dataclasses.dataclass
class CandidatePlan:
  index: int
  candidate_id: str
  position_id: str
  job_title: str
  family: str
  background: str  # The family whose workplace words fill the answers (the last job).
  latent_hirable: int
  label: int
  decisions: list
  answers: list
  attributes: dict = dataclasses.field(default_factory=dict)  # Only with a Bias.
  label_before_bias: int | None = None


@dataclasses.dataclass(frozen=True)
class Position:
  position_id: str
  family: str
  job_title: str
  prior: float


def _pick(rng: np.random.Generator, options: Sequence):
  return options[int(rng.integers(len(options)))]


def _fill(template: str, rng: np.random.Generator, family: str, **extra: str) -> str:
  words = dict(_FAMILY_WORDS[family], **extra)
  out = template
  while '{' in out:
    start = out.index('{')
    end = out.index('}', start)
    name = out[start + 1:end]
    value = words[name] if name in words else _pick(rng, _SLOTS[name])
    out = out[:start] + value + out[end + 1:]
  return out


def _positions(num_candidates: int, seed: int, position_prior_sd: float,
               hirable_logit: float = _HIRABLE_LOGIT) -> list[Position]:
  rng = np.random.default_rng([seed, 0])
  num = max(len(FAMILIES), int(round(num_candidates / _CANDIDATES_PER_POSITION)))
  positions = []
  for i in range(num):
    family = FAMILY_NAMES[i % len(FAMILIES)] if i < len(FAMILIES) else str(
        _pick(rng, FAMILY_NAMES))
    spec = FAMILIES[family]
    title = f'{_pick(rng, spec["titles"])} {_pick(rng, spec["specialties"])}'
    prior = 1.0 / (1.0 + math.exp(-(hirable_logit + position_prior_sd * rng.normal())))
    positions.append(Position(f'pos{i:03d}', family, title, prior))
  return positions


def _question_types(rng: np.random.Generator, questions_per_interview: int) -> list[str]:
  types = list(QUESTION_TYPES)
  while len(types) < questions_per_interview:  # longer interviews: more of the middle types.
    types.insert(-1, QUESTION_TYPES[1 + len(types) % 3])
  types = types[:max(1, questions_per_interview)]
  if rng.random() < _EXTRA_QUESTION_P:
    types.insert(-1, 'situation')
  elif len(types) > 1 and rng.random() < _DROP_CONCLUSION_P:
    types = types[:-1]
  return types


def _decisions(rng: np.random.Generator, label: int) -> list[str]:
  """Recruiter decisions whose majority (draw = hirable) gives `label`."""
  n = 1 + int(np.searchsorted([0.6, 0.85], rng.random(), side='right'))
  if label:
    options = [v for v in range(n + 1) if 2 * v >= n]
  else:
    options = [v for v in range(n + 1) if 2 * v < n]
  votes = _pick(rng, options)
  out = ['like' if rng.random() < 0.7 else 'shortlist' for _ in range(votes)]
  out += ['dislike'] * (n - votes)
  rng.shuffle(out)
  return out


def decisions_label(decisions: Sequence[str]) -> int:
  """The corpus rule: like/shortlist vote hirable, majority wins, a draw is hirable."""
  votes = sum(d in ('like', 'shortlist') for d in decisions)
  return int(2 * votes >= len(decisions))


def _answer_text(rng: np.random.Generator, family: str, qtype: str, num_words: int,
                 events: Sequence[str], event_phrases=None, gender: str | None = None,
                 proxy: str | None = None) -> tuple[str, list]:
  """Filler sentences, about `num_words` words in all, with the event phrases in order
  (`event_phrases`: paraphrases per event, default `_EVENT_PHRASES`); with `gender`,
  self-descriptions and first names in that gender and the `proxy` sentence at the end."""
  event_phrases = event_phrases or _EVENT_PHRASES
  phrases = [(event, _pick(rng, event_phrases[event]).split()) for event in events]
  target = num_words - sum(len(p) for _, p in phrases)
  topical = [_FILLERS[qtype][i] for i in rng.permutation(len(_FILLERS[qtype]))]
  generic = [_GENERIC[i] for i in rng.permutation(len(_GENERIC))]
  sentences, count, used = [], 0, [0, 0]
  while count < target or not sentences:
    which = 0 if rng.random() < 0.75 else 1
    bank = (topical, generic)[which]
    sentence = _fill(str(bank[used[which] % len(bank)]), rng, family)
    used[which] += 1
    sentences.append(sentence)
    count += len(sentence.split())
  # Boundaries 0..len(sentences); events go to increasing boundaries, the two cue events
  # at least two sentences apart when the answer allows it.
  num_slots = len(sentences) + 1
  chosen = sorted(rng.choice(num_slots, size=len(phrases), replace=len(phrases) > num_slots))
  cue = [i for i, (e, _) in enumerate(phrases) if e in (EVENT_X, EVENT_Y)]
  if len(cue) == 2 and num_slots >= 4 and chosen[cue[1]] - chosen[cue[0]] < 2:
    first = int(rng.integers(0, num_slots - 2))
    second = int(rng.integers(first + 2, num_slots))
    others = [c for i, c in enumerate(chosen) if i not in cue]
    chosen = sorted(others + [first, second])
  inserts = {}
  for slot, (event, phrase) in zip(chosen, phrases):
    inserts.setdefault(int(slot), []).append((event, phrase))
  words, spans = [], []
  for slot in range(num_slots):
    for event, phrase in inserts.get(slot, ()):
      spans.append({'event': event, 'words': [len(words), len(words) + len(phrase)]})
      words.extend(phrase)
    if slot < len(sentences):
      words.extend(sentences[slot].split())
  if gender is not None:  # Word for word, so the event spans keep their word positions.
    words = counterfactual.french_gender(' '.join(words), gender).split()
    if proxy:
      words.extend(counterfactual.french_gender(proxy, gender).split())
  words[0] = words[0][:1].upper() + words[0][1:]
  starts = np.cumsum([0] + [len(w) + 1 for w in words])
  for span in spans:
    s, e = span['words']
    span['chars'] = [int(starts[s]), int(starts[e] - 1)]
  return ' '.join(words), spans


def _plan_candidate(index: int, position: Position, *, seed: int,
                    questions_per_interview: int, words_per_answer: float,
                    seconds_per_answer: float, cue_strength: float, label_noise: float,
                    missing_audio_rate: float, missing_video_rate: float,
                    bias: Bias | None = None) -> CandidatePlan:
  rng = np.random.default_rng([seed, 1, index])
  # The planted bias draws from its own stream: with bias=None nothing changes.
  bias_rng = np.random.default_rng([seed, 7, index])
  attributes = draw_attributes(bias_rng) if bias else {}
  flip = bool(bias_rng.random() < bias.label_bias) if bias else False
  gender = attributes['gender'] if bias and bias.gender_proxy else None
  spec = FAMILIES[position.family]
  # The sector the candidate comes from, independent of the position: the answers talk about
  # it, so they do not reveal the family of the job applied for (only the job title does).
  background = str(_pick(rng, FAMILY_NAMES))
  latent = int(rng.random() < position.prior)
  p_good = 0.5 + 0.5 * cue_strength
  label = latent if rng.random() >= label_noise else 1 - latent
  good = GOOD_ORDER
  bad = good[::-1]
  answers = []
  for qtype in _question_types(rng, questions_per_interview):
    question = _fill(_pick(rng, _QUESTIONS[qtype]), rng, background)
    key = qtype in spec['key_types']
    if key:
      is_good = bool(rng.random() < (p_good if latent else 1 - p_good))
      order = good if is_good else bad
    else:
      is_good = None
      present = [e for e in (EVENT_X, EVENT_Y) if rng.random() < _NON_KEY_CUE_P]
      rng.shuffle(present)
      order = ''.join(present) or None
    events = list(order or '')
    for distractor in ('Z', 'W'):
      if rng.random() < _DISTRACTOR_P:
        events.insert(int(rng.integers(0, len(events) + 1)), distractor)
    z = rng.normal()
    scale = math.exp(_LENGTH_SIGMA * z - _LENGTH_SIGMA**2 / 2)
    num_words = max(12, int(round(words_per_answer * scale)))
    seconds = float(np.clip(seconds_per_answer * scale, 2.0, 4 * seconds_per_answer))
    proxy = None
    if gender is not None and bias_rng.random() < _PROXY_P:
      proxy = _pick(bias_rng, _PROXY_PHRASES)
    transcript, spans = _answer_text(rng, background, qtype, num_words, events,
                                     gender=gender, proxy=proxy)
    total_words = len(transcript.split())
    event_times = [(s['event'], seconds * 0.5 * (s['words'][0] + s['words'][1]) / total_words)
                   for s in spans]
    event_times = [(e, float(np.clip(t, 0.6, seconds - 0.6))) for e, t in event_times]
    answers.append(AnswerPlan(
        question=question, question_type=qtype, key=key, order=order, good=is_good,
        transcript=transcript, text_spans=spans, seconds=round(seconds, 3),
        event_times=event_times, has_audio=bool(rng.random() >= missing_audio_rate),
        has_video=bool(rng.random() >= missing_video_rate)))
  label_before_bias = label if bias else None
  if bias and label and flip and attributes[bias.group] == bias.against:
    label = 0  # The recruiters' decisions below follow the biased label.
  return CandidatePlan(
      index=index, candidate_id=f'c{index:05d}', position_id=position.position_id,
      job_title=position.job_title, family=position.family, background=background,
      latent_hirable=latent,
      label=label, decisions=_decisions(rng, label), answers=answers,
      attributes=attributes, label_before_bias=label_before_bias)


def plan_corpus(*, num_candidates: int, seed: int, questions_per_interview: int = 5,
                words_per_answer: float = 95.0, seconds_per_answer: float = 52.0,
                cue_strength: float = 0.8, label_noise: float = 0.05,
                position_prior_sd: float = 0.6, missing_audio_rate: float = 0.015,
                missing_video_rate: float = 0.025, bias: Bias | dict | None = None
                ) -> list[CandidatePlan]:
  """Draws the whole corpus (labels, transcripts, media timings) without rendering media;
  `bias` (a Bias or its dict) plants group attributes, label bias and a gender proxy."""
  if isinstance(bias, dict):
    bias = Bias(**bias)
  positions = _positions(num_candidates, seed, position_prior_sd)
  rng = np.random.default_rng([seed, 4])
  assignment = rng.integers(0, len(positions), size=num_candidates)
  assignment[:len(positions)] = np.arange(min(len(positions), num_candidates))
  return [
      _plan_candidate(i, positions[int(assignment[i])], seed=seed,
                      questions_per_interview=questions_per_interview,
                      words_per_answer=words_per_answer,
                      seconds_per_answer=seconds_per_answer, cue_strength=cue_strength,
                      label_noise=label_noise, missing_audio_rate=missing_audio_rate,
                      missing_video_rate=missing_video_rate, bias=bias)
      for i in range(num_candidates)]


# ----------------------------------------------------------------------------- audio

AUDIO_EVENT_SECONDS = 0.8    # pitch rise (X) / loudness burst (Y) duration.
PITCH_RISE_SEMITONES = 7.0   # X: F0 bump.
LOUDNESS_GAIN = 4.0          # Y: amplitude x4 (+12 dB).
_DISTRACTOR_AUDIO = {'Z': 'pitch_drop', 'W': 'soft'}


def _bump(t: np.ndarray, center: float, width: float, edge: float = 0.15) -> np.ndarray:
  """Flat-top pulse of total duration `width` centred on `center`, cosine edges of `edge` s."""
  edge = min(edge, width / 2)
  d = np.clip(np.abs(t - center) - (width / 2 - edge), 0, edge) / edge
  return 0.5 * (1 + np.cos(np.pi * d))


def _smooth_walk(rng: np.random.Generator, t: np.ndarray, step_seconds: float,
                 scale: float) -> np.ndarray:
  """A slowly varying contour: AR(1) knots (coefficient 0.9, sd 2.3 * scale), interpolated."""
  n = int(t[-1] / step_seconds) + 2 if len(t) else 2
  start = rng.normal(0, scale / math.sqrt(1 - 0.81))
  knots = sp_signal.lfilter([1.0], [1.0, -0.9], rng.normal(0, scale, n), zi=[0.9 * start])[0]
  return np.interp(t, np.arange(n) * step_seconds, knots)


def _event_envelopes(t: np.ndarray, event_times, width: float) -> dict:
  env = {}
  for event, center in event_times:
    env[event] = env.get(event, 0) + _bump(t, center, width)
  return env


def render_audio(rng: np.random.Generator, seconds: float, event_times,
                 sample_rate: int = SAMPLE_RATE) -> np.ndarray:
  """A voiced speech-like float32 signal in [-1, 1] carrying pitch / loudness events.

  Glottal-like harmonic source (15 harmonics, 1/k^1.2) through two formant resonators,
  syllable-rate (about 4.5 Hz) amplitude modulation, breath groups of 1.5-4 s separated by
  0.15-0.7 s pauses, F0 declination and drift. Event X raises F0 by 7 semitones, event Y
  multiplies the amplitude by 4; both last 0.8 s and are kept voiced.
  """
  n = int(round(seconds * sample_rate))
  t = np.arange(n) / sample_rate
  female = rng.random() < 0.5
  f0_base = rng.uniform(170, 230) if female else rng.uniform(95, 135)
  # Breath groups and pauses.
  voiced = np.ones(n, bool)
  pos = rng.uniform(0.05, 0.3)
  voiced[:int(pos * sample_rate)] = False
  phrase_start = np.zeros(n)
  while pos < seconds:
    length = rng.uniform(1.5, 4.0)
    phrase_start[int(pos * sample_rate):] = pos
    pos += length
    pause = rng.uniform(0.15, 0.7)
    voiced[int(pos * sample_rate):int((pos + pause) * sample_rate)] = False
    pos += pause
  env = _event_envelopes(t, event_times, AUDIO_EVENT_SECONDS)
  for event, center in event_times:  # events are spoken, never in a pause.
    half = 0.5 * AUDIO_EVENT_SECONDS + 0.1
    voiced[max(0, int((center - half) * sample_rate)):int((center + half) * sample_rate)] = True
  # F0 contour in semitones relative to the speaker's base.
  semitones = (-2.0 * np.minimum(t - phrase_start, 4.0) / 4.0
               + _smooth_walk(rng, t, 0.5, 0.5) + _smooth_walk(rng, t, 0.05, 0.12))
  semitones += PITCH_RISE_SEMITONES * env.get(EVENT_X, 0)
  semitones -= 5.0 * env.get('Z', 0)
  f0 = f0_base * 2 ** (semitones / 12)
  phase = 2 * np.pi * np.cumsum(f0) / sample_rate
  cycle = np.linspace(0, 2 * np.pi, 1025)
  table = sum(np.sin(k * cycle) / k**1.2 for k in range(1, 16))
  source = np.interp(np.mod(phase, 2 * np.pi), cycle, table)
  # Vowel colour: two resonators (F1, F2) fixed per speaker.
  for formant, bandwidth in ((rng.uniform(500, 750), 90.0), (rng.uniform(1200, 1900), 120.0)):
    r = math.exp(-math.pi * bandwidth / sample_rate)
    theta = 2 * math.pi * formant / sample_rate
    source = sp_signal.lfilter([1 - r], [1, -2 * r * math.cos(theta), r * r], source)
  syllable_rate = 4.5 * np.exp(_smooth_walk(rng, t, 0.5, 0.05))
  syllables = np.maximum(0, np.sin(2 * np.pi * np.cumsum(syllable_rate) / sample_rate))
  amplitude = (0.3 + 0.7 * syllables) * np.exp(_smooth_walk(rng, t, 0.5, 0.08))
  amplitude *= 1 + (LOUDNESS_GAIN - 1) * env.get(EVENT_Y, 0)
  amplitude *= 1 - 0.6 * env.get('W', 0)
  # Smooth voicing edges (20 ms) to avoid clicks.
  ramp = ndimage.uniform_filter1d(voiced.astype(float), 320)
  x = source * amplitude * ramp
  x /= np.abs(x).max() + 1e-9
  x = 0.3 * rng.uniform(0.5, 1.0) * x + rng.normal(0, 10**(-55 / 20), n)
  return np.clip(x, -1, 1).astype(np.float32)


# ----------------------------------------------------------------------------- video

VIDEO_EVENT_SECONDS = 1.2
AU_INTENSITY = video.AU_INTENSITY
AU_PRESENCE = video.AU_PRESENCE
# OpenFace 2.x FeatureExtraction columns (landmarks and shape parameters omitted).
OPENFACE_COLUMNS = (
    ('frame', 'face_id', 'timestamp', 'confidence', 'success')
    + tuple(f'gaze_{e}_{a}' for e in (0, 1) for a in 'xyz') + ('gaze_angle_x', 'gaze_angle_y')
    + tuple(f'pose_{k}' for k in ('Tx', 'Ty', 'Tz', 'Rx', 'Ry', 'Rz'))
    + tuple(f'{au}_r' for au in AU_INTENSITY) + tuple(f'{au}_c' for au in AU_PRESENCE))
# Events: X smile (AU06 + AU12), Y brow raise (AU01 + AU02); distractors Z frown (AU04),
# W dimpler (AU14).
_VIDEO_EVENTS = {EVENT_X: {'AU06': 1.6, 'AU12': 2.6}, EVENT_Y: {'AU01': 2.0, 'AU02': 1.8},
                 'Z': {'AU04': 1.8}, 'W': {'AU14': 1.5}}


def video_signal(rng: np.random.Generator, seconds: float, event_times) -> callable:
  """The underlying face signal as a function of time, independent of the frame rate."""
  grid = np.arange(0, seconds + 0.2, 0.01)
  base = {au: np.maximum(0, rng.uniform(0, 0.4) + _smooth_walk(rng, grid, 0.4, 0.08))
          for au in AU_INTENSITY}
  mouth = np.maximum(0, np.sin(2 * np.pi * 4.5 * grid + rng.uniform(0, 6)))
  base['AU25'] = base['AU25'] + 1.2 * mouth
  base['AU26'] = base['AU26'] + 0.8 * mouth
  blinks = rng.uniform(0, seconds, size=max(1, int(seconds / 3.5)))
  base['AU45'] = base['AU45'] + sum(2.5 * _bump(grid, b, 0.2) for b in blinks)
  for event, center in event_times:
    for au, gain in _VIDEO_EVENTS[event].items():
      base[au] = base[au] + gain * _bump(grid, center, VIDEO_EVENT_SECONDS)
  pose = {
      'pose_Tx': rng.uniform(-40, 40) + _smooth_walk(rng, grid, 0.5, 2.0),
      'pose_Ty': rng.uniform(-20, 30) + _smooth_walk(rng, grid, 0.5, 1.5),
      'pose_Tz': rng.uniform(380, 620) + _smooth_walk(rng, grid, 0.5, 3.0),
      'pose_Rx': rng.uniform(-0.15, 0.15) + _smooth_walk(rng, grid, 0.3, 0.01),
      'pose_Ry': rng.uniform(-0.15, 0.15) + _smooth_walk(rng, grid, 0.3, 0.01),
      'pose_Rz': rng.uniform(-0.08, 0.08) + _smooth_walk(rng, grid, 0.3, 0.006),
  }
  gaze_x = rng.uniform(-0.1, 0.1) + _smooth_walk(rng, grid, 0.3, 0.02)
  gaze_y = rng.uniform(0.05, 0.25) + _smooth_walk(rng, grid, 0.3, 0.015)

  def at(t: np.ndarray) -> dict:
    out = {name: np.interp(t, grid, v) for name, v in pose.items()}
    out.update({f'{au}_r': np.interp(t, grid, v) for au, v in base.items()})
    gx, gy = np.interp(t, grid, gaze_x), np.interp(t, grid, gaze_y)
    for eye, offset in ((0, 0.03), (1, -0.03)):
      vec = np.stack([gx + offset, gy, -np.ones_like(gx)])
      vec /= np.linalg.norm(vec, axis=0)
      for i, a in enumerate('xyz'):
        out[f'gaze_{eye}_{a}'] = vec[i]
    out['gaze_angle_x'] = np.arctan2(gx, 1.0)
    out['gaze_angle_y'] = np.arctan2(gy, 1.0)
    return out
  return at


def render_openface(rng: np.random.Generator, seconds: float, event_times,
                    fps: float = 25.0, signal_fn=None, noise: float = 1.0,
                    failures: bool = True) -> str:
  """OpenFace 2.x FeatureExtraction CSV text for one answer at `fps`.

  Per-frame measurement noise, confidence around 0.93, 0-2 tracking failures of 0.2-1 s
  (success 0, confidence < 0.5, features zeroed as OpenFace writes them) and a few
  isolated low-confidence frames. `signal_fn` (from `video_signal`) lets two frame rates
  share one underlying signal; `noise` scales the measurement noise and `failures=False`
  leaves out the failed and low-confidence frames (both for tests).
  """
  if signal_fn is None:
    signal_fn = video_signal(rng, seconds, event_times)
  num = max(1, int(round(seconds * fps)))
  t = np.arange(num) / fps
  values = signal_fn(t)
  noise_sd = {'pose_T': 1.5, 'pose_R': 0.01, 'gaze': 0.02, 'AU': 0.12}
  for name in list(values):
    sd = next(v for k, v in noise_sd.items() if name.startswith(k))
    values[name] = values[name] + rng.normal(0, noise * sd, num)
    if name.endswith('_r'):
      values[name] = np.clip(values[name], 0, 5)
  for au in AU_PRESENCE:
    r = values.get(f'{au}_r', np.full(num, 0.2))
    values[f'{au}_c'] = (r + rng.normal(0, noise * 0.25, num) > 1.0).astype(float)
  confidence = np.clip(0.93 + rng.normal(0, 0.025, num), 0, 0.98)
  success = np.ones(num)
  for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2])) if failures else 0):
    start = rng.uniform(0, seconds)
    bad = (t >= start) & (t < start + rng.uniform(0.2, 1.0))
    success[bad] = 0
    confidence[bad] = rng.uniform(0.0, 0.5, bad.sum())
  low = (rng.random(num) < 0.01) & failures
  confidence[low] = rng.uniform(0.5, 0.74, low.sum())
  columns = {'frame': np.arange(1, num + 1), 'face_id': np.zeros(num), 'timestamp': t,
             'confidence': confidence, 'success': success, **values}
  table = np.stack([np.asarray(columns[c], float) for c in OPENFACE_COLUMNS], axis=1)
  table[success == 0, 5:] = 0.0
  fmt = ['%d', '%d', '%.3f', '%.2f', '%d'] + ['%.6f'] * 8 + ['%.3f'] * 6 + ['%.2f'] * (
      len(AU_INTENSITY) + len(AU_PRESENCE))
  row = ', '.join(fmt)
  lines = [', '.join(OPENFACE_COLUMNS)] + [row % tuple(r) for r in table]
  return '\n'.join(lines) + '\n'


# ----------------------------------------------------------------------------- writing

# Where the corpus keeps each frame modality's files: (folder, suffix).
_MEDIA_FILES = {'audio': ('audio', '.wav'), 'video': ('openface', '.csv')}


def _media_path(modality: str, candidate_id: str, answer_index: int) -> str:
  folder, suffix = _MEDIA_FILES[modality]
  return f'{folder}/{candidate_id}_{answer_index + 1}{suffix}'


def _render_one(job) -> float:
  """Writes one media file; returns its duration in seconds (worker entry point)."""
  out_dir, seed, modality, cand_index, candidate_id, answer_index, seconds, events, fps = job
  path = os.path.join(out_dir, _media_path(modality, candidate_id, answer_index))
  write, stream = _WRITERS[modality]
  write(path, np.random.default_rng([seed, stream, cand_index, answer_index]), seconds,
        events, fps)
  return seconds


def _write_audio(path: str, rng, seconds: float, events, fps: float) -> None:
  del fps  # Audio has its own sample rate.
  wav = render_audio(rng, seconds, events)
  tmp = f'{path}.tmp{os.getpid()}.wav'
  soundfile.write(tmp, wav, SAMPLE_RATE, subtype='PCM_16')
  os.replace(tmp, path)


def _write_openface(path: str, rng, seconds: float, events, fps: float) -> None:
  run_log.write_bytes(path, render_openface(rng, seconds, events, fps).encode())


# The writer of each frame modality's files and the random stream it draws from.
_WRITERS = {'audio': (_write_audio, 2), 'video': (_write_openface, 3)}


def _mp_context():
  methods = multiprocessing.get_all_start_methods()
  return multiprocessing.get_context('forkserver' if 'forkserver' in methods else 'spawn')


def _render_media(out_dir: str, plans: Sequence[CandidatePlan], modality: str, *, seed: int,
                  fps: float, workers: int | None) -> None:
  os.makedirs(os.path.join(out_dir, _MEDIA_FILES[modality][0]), exist_ok=True)
  jobs = [(out_dir, seed, modality, p.index, p.candidate_id, i, a.seconds, a.event_times, fps)
          for p in plans for i, a in enumerate(p.answers)
          if a.has(modality)]
  workers = workers or os.cpu_count() or 1
  start = time.time()
  if workers == 1 or len(jobs) < 8:
    total = sum(map(_render_one, jobs))
  else:
    with _mp_context().Pool(workers) as pool:
      total = sum(pool.imap_unordered(_render_one, jobs, chunksize=4))
  logging.info('synthetic %s: %d files, %.1f min in %.1f s', modality, len(jobs), total / 60,
               time.time() - start)


def _interview_record(plan: CandidatePlan, modalities: Iterable[str]) -> dict:
  answers = []
  for i, a in enumerate(plan.answers):
    answers.append({
        'question': a.question, 'transcript': a.transcript,
        **{dataset_spec.modality(m).media_key: (
            _media_path(m, plan.candidate_id, i) if m in modalities and a.has(m) else None)
           for m in dataset_spec.FRAME_MODALITIES},
    })
  record = {'candidate_id': plan.candidate_id, 'position_id': plan.position_id,
            'job_title': plan.job_title, 'label': plan.label, 'decisions': plan.decisions,
            'answers': answers}
  if plan.attributes:
    record['attributes'] = plan.attributes
  return record


def _ground_truth_record(plan: CandidatePlan) -> dict:
  answers = []
  for a in plan.answers:
    spans = [dict(s) for s in a.text_spans]
    answers.append({
        'question_type': a.question_type, 'key': a.key, 'order': a.order, 'good': a.good,
        'seconds': a.seconds,
        'text': spans,
        'audio': [{'event': e, 'seconds': [round(t - AUDIO_EVENT_SECONDS / 2, 3),
                                           round(t + AUDIO_EVENT_SECONDS / 2, 3)]}
                  for e, t in a.event_times] if a.has_audio else None,
        'video': [{'event': e, 'seconds': [round(t - VIDEO_EVENT_SECONDS / 2, 3),
                                           round(t + VIDEO_EVENT_SECONDS / 2, 3)]}
                  for e, t in a.event_times] if a.has_video else None,
    })
  record = {'candidate_id': plan.candidate_id, 'family': plan.family,
            'background': plan.background,
            'good_order': GOOD_ORDER,
            'key_answers': [i for i, a in enumerate(plan.answers) if a.key],
            'latent_hirable': plan.latent_hirable, 'label': plan.label, 'answers': answers}
  if plan.attributes:
    record.update(attributes=plan.attributes, label_before_bias=plan.label_before_bias)
  return record


def bias_truth(plans: Sequence[CandidatePlan], bias: Bias) -> dict:
  """What the corpus planted and the realised rates: per value of the biased attribute,
  candidates, hirable rate before and after the label bias, and the impact ratio of the
  labels against the most hirable group (expected: 1 - label_bias for the disfavoured
  group, 1 for the others, up to sampling)."""
  groups = {}
  for value, _ in GROUP_ATTRIBUTES[bias.group]:
    members = [p for p in plans if p.attributes.get(bias.group) == value]
    groups[value] = {
        'n': len(members),
        'hirable_rate_before_bias': float(np.mean([p.label_before_bias for p in members]))
                                    if members else float('nan'),
        'hirable_rate': float(np.mean([p.label for p in members])) if members
                        else float('nan')}
  top = max(g['hirable_rate'] for g in groups.values())
  for g in groups.values():
    g['impact_ratio'] = g['hirable_rate'] / top if top > 0 else float('nan')
  return {**bias.to_dict(), 'expected_impact_ratio': 1.0 - bias.label_bias,
          'groups': groups}


def _normalise_modalities(modalities) -> tuple[str, ...]:
  if isinstance(modalities, str):
    modalities = [m for m in modalities.split(',') if m]
  unknown = set(modalities) - set(MODALITIES)
  if unknown:
    raise ValueError(f'unknown modalities {sorted(unknown)}; expected some of {MODALITIES}')
  return tuple(m for m in MODALITIES if m in modalities)


def generate_corpus(out_dir: str, *, num_candidates: int, seed: int,
                    modalities: Sequence[str] = MODALITIES, questions_per_interview: int = 5,
                    words_per_answer: float = 95.0, seconds_per_answer: float = 52.0,
                    fps: float = 25.0, cue_strength: float = 0.8, label_noise: float = 0.05,
                    position_prior_sd: float = 0.6, missing_audio_rate: float = 0.015,
                    missing_video_rate: float = 0.025, workers: int | None = None,
                    bias: Bias | dict | None = None) -> str:
  """Writes a synthetic corpus to `out_dir` and returns `out_dir`.

  Args:
    out_dir: created if needed. If it holds a corpus written with the same arguments,
      its rendered modalities are kept and only the missing ones are rendered; otherwise
      files are overwritten (stale media of other arguments are not deleted).
    num_candidates: number of interviews (one candidate each).
    seed: everything is a function of the seed (and the other arguments).
    modalities: which media to render; transcripts are always written. Media of
      modalities already listed in an existing `corpus_info.json` are kept and stay
      referenced, so a corpus can be completed modality by modality.
    questions_per_interview: typical number of questions (about 8% get one more
      situational question, 3% lose the closing one).
    words_per_answer, seconds_per_answer: mean answer length (lognormal, sigma 0.3, the
      same draw for both so the speech rate stays plausible). Paper: 95 words, 52 s.
    fps: OpenFace CSV frame rate (25 or 30 are typical).
    cue_strength: in [0, 1]; a key answer shows the family's good order with probability
      0.5 + cue_strength / 2 for hirable candidates (the reverse for the others).
    label_noise: probability that the label is flipped after the cue is drawn.
    position_prior_sd: spread (logit scale) of per-position hirable rates around 45%.
    missing_audio_rate, missing_video_rate: probability that an answer has no media file.
    workers: processes rendering media (None: all cores).
    bias: planted bias (`Bias`, docs/fairness.md): every candidate gets `attributes`,
      and corpus_info.json a `bias` block with the planted and realised impact ratios.
      None (the default) writes the same bytes as before it existed.
  """
  modalities = _normalise_modalities(modalities)
  if isinstance(bias, dict):
    bias = Bias(**bias)
  params = dict(num_candidates=num_candidates, seed=seed,
                questions_per_interview=questions_per_interview,
                words_per_answer=words_per_answer, seconds_per_answer=seconds_per_answer,
                fps=fps, cue_strength=cue_strength, label_noise=label_noise,
                position_prior_sd=position_prior_sd, missing_audio_rate=missing_audio_rate,
                missing_video_rate=missing_video_rate)
  if bias:
    params['bias'] = bias.to_dict()
  os.makedirs(out_dir, exist_ok=True)
  info_path = os.path.join(out_dir, 'corpus_info.json')
  done = ()
  if os.path.exists(info_path):
    with open(info_path, encoding='utf-8') as f:
      info = json.load(f)
    if info.get('params') == params and info.get('version') == GENERATOR_VERSION:
      done = tuple(info.get('modalities', ()))
  plan_params = {k: v for k, v in params.items() if k != 'fps'}
  plans = plan_corpus(**plan_params)
  for modality in dataset_spec.FRAME_MODALITIES:
    if modality in modalities and modality not in done:
      _render_media(out_dir, plans, modality, seed=seed, fps=fps, workers=workers)
  all_modalities = _normalise_modalities(set(modalities) | set(done) | {'text'})
  run_log.write_jsonl(os.path.join(out_dir, 'interviews.jsonl'),
                      (_interview_record(p, all_modalities) for p in plans))
  run_log.write_jsonl(os.path.join(out_dir, 'ground_truth.jsonl'),
                      map(_ground_truth_record, plans))
  info = {'generator': 'data_prep.hirenet.synthetic', 'version': GENERATOR_VERSION, 'params': params,
          'modalities': list(all_modalities),
          'hirable_fraction': float(np.mean([p.label for p in plans])) if plans else 0.0}
  if bias:
    info['bias'] = bias_truth(plans, bias)
  run_log.write_json(info_path, info, indent=1, sort_keys=False, end='\n')
  return out_dir


# ----------------------------------------------------------------------------- default

# The default corpus: 1200 candidates, the smallest size at which HireNet learns the
# planted cue well from frozen word2vec vectors (600 candidates: the model memorises the
# training set, validation AUC ~0.5; 1200: test F1 0.79-0.85, AUC 0.90-0.91), trained in
# a few minutes on 2 CPU cores. Answers are shorter than the paper's (40 words, 5 s instead of 95
# words, 52 s) so an epoch stays cheap and openSMILE on the whole audio corpus (about
# 1200 * 5 * 5 s = 500 min) takes a few minutes on 2 cores; the cue is the same at any
# length. The cache directory name carries a hash of these settings.
DEFAULT_CORPUS = dict(num_candidates=1200, seed=1, questions_per_interview=5,
                      words_per_answer=40.0, seconds_per_answer=5.0, fps=25.0,
                      cue_strength=0.8, label_noise=0.05)
DEFAULT_CORPUS_NAME = 'default_corpus_v{}_{}'.format(GENERATOR_VERSION, hashlib.sha1(
    json.dumps(DEFAULT_CORPUS, sort_keys=True).encode()).hexdigest()[:8])


def default_cache_dir() -> str:
  """`$HIRENET_CACHE/<DEFAULT_CORPUS_NAME>`, else `~/.cache/hirenet_jax/<...>`."""
  root = paths.cache_root()
  return os.path.join(root, DEFAULT_CORPUS_NAME)


def ensure_default_corpus(modalities: Sequence[str] = ('text',),
                          cache_dir: str | None = None) -> str:
  """Returns the project's default synthetic corpus, building what is missing once.

  The corpus lives in `cache_dir` (default `default_cache_dir()`). A first call builds
  the text part in a temporary folder renamed into place; a call asking for audio or video
  not yet there renders just those media and rewrites interviews.jsonl (whose text never
  changes: everything is drawn from the fixed seed). An exclusive lock on
  `<cache_dir>.lock` serialises concurrent processes. Media are rendered by a forkserver
  pool, so the calling script needs the usual `if __name__ == '__main__':` guard.
  """
  modalities = _normalise_modalities(modalities)
  cache_dir = os.path.abspath(cache_dir or default_cache_dir())
  with cache.file_lock(cache_dir + '.lock'):
    info_path = os.path.join(cache_dir, 'corpus_info.json')
    have = ()
    if os.path.exists(info_path):
      with open(info_path, encoding='utf-8') as f:
        have = tuple(json.load(f).get('modalities', ()))
    else:
      tmp = f'{cache_dir}.tmp{os.getpid()}'
      shutil.rmtree(tmp, ignore_errors=True)
      if os.path.exists(cache_dir):
        shutil.rmtree(cache_dir)  # left by a crashed build without corpus_info.json.
      generate_corpus(tmp, modalities=('text',), **DEFAULT_CORPUS)
      os.rename(tmp, cache_dir)
      have = ('text',)
    if not set(modalities) <= set(have):
      logging.info('default corpus: adding %s to %s', sorted(set(modalities) - set(have)),
                   cache_dir)
      generate_corpus(cache_dir, modalities=modalities, **DEFAULT_CORPUS)
  return cache_dir
