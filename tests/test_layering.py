"""The tree's layering and packaging: data flows data_prep -> hirenet_jax -> experiments,
nothing below `experiments` imports it, inside the library core/ knows no system and llm/
knows only core/, person-job fit never reaches into HireNet, every package says what it
owns, and a non-editable install holds every first-party package that a documented
command imports."""

from __future__ import annotations

import ast
import configparser
import dataclasses
import pathlib
import re

import pytest
import setuptools

from tools.build_file import first_party_imports
from tools.build_file import imports_of
from tools.build_file import import_map
from tools.build_file import module_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIRST_PARTY = ('hirenet_jax', 'data_prep', 'experiments', 'benchmarks')


def within(name: str, package: str) -> bool:
  return name == package or name.startswith(package + '.')


@dataclasses.dataclass(frozen=True)
class Rule:
  """Modules under `importer` import nothing under `forbidden`; if `only` is given, their
  first-party imports are all under one of `only` (or a package above one of them)."""
  importer: str
  forbidden: tuple[str, ...] = ()
  only: tuple[str, ...] | None = None

  def allows(self, name: str) -> bool:
    if any(within(name, f) for f in self.forbidden):
      return False
    return self.only is None or any(within(name, o) or within(o, name) for o in self.only)


LIBRARY = ('hirenet_jax.hirenet', 'hirenet_jax.llm', 'hirenet_jax.pjf', 'hirenet_jax.mockllm')
RULES = (
    # Data flows data_prep -> hirenet_jax -> experiments; benchmarks sit beside experiments.
    Rule('hirenet_jax', forbidden=('data_prep', 'experiments', 'benchmarks')),
    Rule('data_prep', forbidden=('experiments', 'benchmarks')),
    Rule('benchmarks', forbidden=('experiments',)),
    # core is shared by both systems, so it knows neither.
    Rule('hirenet_jax.core', forbidden=LIBRARY),
    # The language-model runtime stands on core alone.
    Rule('hirenet_jax.llm', only=('hirenet_jax.core', 'hirenet_jax.llm')),
    # Person-job fit never reaches into the interview model, in the library or in data
    # preparation.
    Rule('hirenet_jax.pjf', forbidden=('hirenet_jax.hirenet',)),
    Rule('data_prep.pjf', forbidden=('data_prep.hirenet', 'hirenet_jax.hirenet')),
)


def violations(imports: dict[str, set[str]], rules=RULES) -> list[str]:
  """'module imports name (rule)' for every import in {module: first-party names} a rule
  forbids."""
  return sorted(
      f'{module} imports {name} (layering rule for {rule.importer})'
      for module, names in imports.items() for rule in rules if within(module, rule.importer)
      for name in names if name.split('.')[0] in FIRST_PARTY and not rule.allows(name))


@pytest.fixture(scope='module')
def tree_imports():
  return import_map(ROOT, FIRST_PARTY)


def test_import_scan_sees_imports_inside_functions():
  source = 'def f():\n  from experiments import common\n  import data_prep.hirenet.build\n'
  assert {'experiments', 'experiments.common', 'data_prep.hirenet.build'} <= imports_of(source)


def test_import_scan_sees_runpy_and_relative_imports():
  source = "import runpy\nfrom . import b\nrunpy.run_module('data_prep.pjf.convert')\n"
  assert {'hirenet_jax.core.b', 'data_prep.pjf.convert'} <= imports_of(
      source, 'hirenet_jax.core.a')


def test_the_tree_keeps_its_layers(tree_imports):
  assert 'hirenet_jax.core.gru' in tree_imports and 'data_prep.pjf.corpus' in tree_imports
  offending = violations(tree_imports)
  assert not offending, offending


@pytest.mark.parametrize('module,name', [
    ('hirenet_jax.core.x', 'hirenet_jax.hirenet.models'),
    ('hirenet_jax.core.x', 'hirenet_jax.mockllm.loop'),
    ('hirenet_jax.llm.x', 'hirenet_jax.pjf.corpus'),
    ('hirenet_jax.llm.x', 'data_prep.errors'),
    ('hirenet_jax.pjf.x', 'hirenet_jax.hirenet.steps'),
    ('hirenet_jax.mockllm.x', 'experiments.common'),
    ('data_prep.pjf.x', 'data_prep.hirenet.corpus'),
    ('data_prep.pjf.x', 'hirenet_jax.hirenet.dataset_spec'),
    ('data_prep.hirenet.x', 'benchmarks.training'),
    ('benchmarks.x', 'experiments.common'),
])
def test_a_planted_violation_is_caught(tree_imports, module, name):
  planted = {**tree_imports, module: {name}}
  new = set(violations(planted)) - set(violations(tree_imports))
  assert new and all(v.startswith(f'{module} imports {name} ') for v in new), new


@pytest.mark.parametrize('module,name', [
    ('hirenet_jax.llm.x', 'hirenet_jax.core.sharding'),
    ('hirenet_jax.llm.x', 'hirenet_jax'),  # The package above core.
    ('hirenet_jax.pjf.x', 'hirenet_jax.core.gru'),
    ('hirenet_jax.mockllm.x', 'hirenet_jax.pjf.corpus'),
    ('data_prep.pjf.x', 'hirenet_jax.pjf.corpus'),
    ('experiments.x', 'hirenet_jax.hirenet.train_lib'),
])
def test_an_allowed_import_passes(module, name):
  assert not violations({module: {name}})


def test_every_package_says_what_it_owns():
  inits = sorted(p for top in FIRST_PARTY + ('tools',) for p in (ROOT / top).rglob('__init__.py'))
  assert len(inits) >= 14, inits
  undocumented = [str(p.relative_to(ROOT)) for p in inits
                  if not ast.get_docstring(ast.parse(p.read_text(encoding='utf-8')))]
  assert not undocumented, f'package __init__.py without a docstring: {undocumented}'


def modules_under(package: str) -> dict[str, pathlib.Path]:
  return {module_name(p): p for p in (ROOT / package).rglob('*.py')}


def packaged() -> set[str]:
  """The packages setup.cfg puts in the distribution (what `pip install .` installs)."""
  config = configparser.ConfigParser()
  config.read(ROOT / 'setup.cfg')
  include = config['options.packages.find']['include'].split()
  return set(setuptools.find_packages(where=str(ROOT), include=include))


def documented_commands() -> set[str]:
  texts = [(ROOT / 'README.md').read_text(encoding='utf-8')]
  texts += [p.read_text(encoding='utf-8') for p in (ROOT / 'docs').glob('*.md')]
  return {m for text in texts for m in re.findall(r'python3? -m ([\w.]+)', text)
          if m.split('.')[0] in FIRST_PARTY}


def test_every_package_a_documented_command_imports_is_installed():
  modules = {}
  for package in FIRST_PARTY:
    modules.update(modules_under(package))
  commands = documented_commands()
  assert 'experiments.train' in commands
  missing_commands = sorted(c for c in commands if c not in modules)
  assert not missing_commands, f'documented commands without a module: {missing_commands}'
  # Everything reachable from the commands through first-party imports.
  seen, todo = set(), list(commands)
  while todo:
    name = todo.pop()
    if name in seen or name not in modules:
      continue
    seen.add(name)
    todo.extend(first_party_imports(modules[name]))
  installed = packaged()
  not_installed = sorted(m for m in seen if m.rpartition('.')[0] not in installed
                         and m not in installed)
  assert not not_installed, f'imported by documented commands but not packaged: {not_installed}'
