"""Group markers in text and their swaps, for counterfactual probes (docs/fairness.md).

A probe scores a text, swaps the markers of one group for the other's (French gendered
forms of self-description, English first names and pronouns), scores it again and
pairs the two scores. The synthetic generators draw their planted proxies from the same
lists, so what a probe swaps is exactly what a corpus planted.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Mapping, Sequence

import numpy as np

# French self-description, masculine -> feminine ("je suis motivé" / "je suis motivée").
FRENCH_GENDERED = (
    ('motivé', 'motivée'), ('prêt', 'prête'), ('certain', 'certaine'),
    ('rigoureux', 'rigoureuse'), ('souriant', 'souriante'), ('patient', 'patiente'),
    ('curieux', 'curieuse'), ('organisé', 'organisée'), ('polyvalent', 'polyvalente'),
    ('sérieux', 'sérieuse'), ('ponctuel', 'ponctuelle'), ('ravi', 'ravie'),
    ('fier', 'fière'), ('formé', 'formée'), ('serveur', 'serveuse'),
    ('caissier', 'caissière'), ('livreur', 'livreuse'), ('étudiant', 'étudiante'),
    ('animateur', 'animatrice'), ('hôte', 'hôtesse'))
# French first names (HireNet's "je m'appelle ..."), paired (m, f) like the forms above, so
# a gendered transcript names its candidate in the candidate's gender.
FRENCH_NAMES = (('Thomas', 'Julie'), ('Karim', 'Nadia'), ('Lucas', 'Sophie'),
                ('Hugo', 'Inès'), ('Mehdi', 'Camille'), ('Antoine', 'Laura'))

# English first names by gender (resumes open with the candidate's name), paired for swaps.
FEMALE_NAMES = ('Emma', 'Olivia', 'Sophie', 'Grace', 'Hannah', 'Chloe', 'Amelia', 'Lucy',
                'Priya', 'Fatima', 'Laura', 'Zoe')
MALE_NAMES = ('James', 'Oliver', 'Samuel', 'George', 'Henry', 'Charlie', 'Thomas', 'Jack',
              'Arjun', 'Omar', 'Daniel', 'Adam')
ENGLISH_PRONOUNS = (('he', 'she'), ('his', 'her'), ('himself', 'herself'))  # (m, f)


@functools.lru_cache(maxsize=16)
def _pattern(words: tuple[str, ...]) -> re.Pattern:
  return re.compile(r"(?<![\w'-])(" + '|'.join(map(re.escape, words)) + r")(?![\w-])",
                    re.IGNORECASE)


def _swap(text: str, table: Mapping[str, str]) -> str:
  """Replaces whole words of `text` found in `table` (case of the first letter kept)."""
  if not table:
    return text
  pattern = _pattern(tuple(sorted(table, key=len, reverse=True)))

  def repl(m):
    word = m.group(0)
    new = table[word.lower()]
    return new[:1].upper() + new[1:] if word[:1].isupper() else new
  return pattern.sub(repl, text)


def _table(pairs: Sequence[tuple[str, str]], to: str) -> dict[str, str]:
  if to not in ('f', 'm', 'swap'):
    raise ValueError(f"to must be 'f', 'm' or 'swap', got {to!r}")
  out = {}
  if to in ('f', 'swap'):
    out.update({m.lower(): f for m, f in pairs})
  if to in ('m', 'swap'):
    out.update({f.lower(): m for m, f in pairs})
  return out


def french_gender(text: str, to: str = 'swap') -> str:
  """`text` with its gendered self-description and first names in the feminine ('f'),
  the masculine ('m') or each turned into the other ('swap')."""
  return _swap(text, _table(FRENCH_GENDERED + FRENCH_NAMES, to))


def english_gender(text: str, to: str = 'swap') -> str:
  """`text` with first names (FEMALE_NAMES[i] <-> MALE_NAMES[i]) and pronouns turned to
  the feminine, the masculine or each into the other. ('her' becomes 'his'; a probe
  needs a consistent change, not perfect grammar.)"""
  return _swap(text, _table(tuple(zip(MALE_NAMES, FEMALE_NAMES)) + ENGLISH_PRONOUNS, to))


def has_markers(text: str, language: str) -> bool:
  """Whether a probe's swap changes `text` ('fr': gendered forms, names; 'en': names,
  pronouns)."""
  swap = french_gender if language == 'fr' else english_gender
  return swap(text) != text


# ------------------------------------------------------------------------ planted bias
# What the synthetic generators plant (docs/fairness.md); off unless asked for.

GROUP_ATTRIBUTES = {'gender': (('f', 0.5), ('m', 0.5)),
                    'age_band': (('18-29', 0.35), ('30-44', 0.4), ('45+', 0.25))}
BIAS_AGAINST = {'gender': 'f', 'age_band': '45+'}  # The default disfavoured group.


@dataclasses.dataclass(frozen=True)
class PlantedBias:
  """What a synthetic corpus plants: group attributes on every candidate; `label_bias`,
  the probability that a positive decision for a candidate of `group` = `against` is
  turned negative, so the data's expected impact ratio is 1 - label_bias; and
  `gender_proxy`, a marker of gender in the text a model can learn (gendered French
  forms in HireNet's answers, gendered first names on PJF resumes)."""
  group: str = 'gender'
  against: str = ''
  label_bias: float = 0.0
  gender_proxy: bool = False

  def __post_init__(self):
    if self.group not in GROUP_ATTRIBUTES:
      raise ValueError(f'bias group must be one of {sorted(GROUP_ATTRIBUTES)}, got '
                       f'{self.group!r}')
    if not self.against:
      object.__setattr__(self, 'against', BIAS_AGAINST[self.group])
    if self.against not in dict(GROUP_ATTRIBUTES[self.group]):
      raise ValueError(f'{self.against!r} is not a value of {self.group}')
    if not 0.0 <= self.label_bias <= 1.0:
      raise ValueError(f'label_bias must be in [0, 1], got {self.label_bias}')

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def draw_attributes(rng: np.random.Generator) -> dict[str, str]:
  """One candidate's group attributes, each drawn independently of everything else."""
  out = {}
  for name, options in GROUP_ATTRIBUTES.items():
    values, p = zip(*options)
    out[name] = str(values[int(rng.choice(len(values), p=p))])
  return out


def rate_ratios(groups: Mapping[str, Sequence[int]]) -> dict[str, dict]:
  """{value: {n, rate, impact_ratio}} of 0/1 outcomes per group, the ratio against the
  group with the highest rate (what a generator's ground truth records)."""
  out = {v: {'n': len(x), 'rate': float(np.mean(x)) if len(x) else float('nan')}
         for v, x in groups.items()}
  top = max((g['rate'] for g in out.values() if g['n']), default=float('nan'))
  for g in out.values():
    g['impact_ratio'] = g['rate'] / top if top and top > 0 else float('nan')
  return out
