"""The tree's layering and packaging: data flows data_prep -> hirenet_jax -> experiments,
nothing below `experiments` imports it, and a non-editable install holds every first-party
package that a documented command imports."""

from __future__ import annotations

import ast
import configparser
import pathlib
import re

import pytest
import setuptools

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIRST_PARTY = ('hirenet_jax', 'data_prep', 'experiments', 'benchmarks')


def imports_of(source: str, module: str = '') -> set[str]:
  """Absolute module names imported anywhere in `source` (function-level imports too)."""
  names = set()
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      if node.level:  # Relative: resolve against the importing module's package.
        package = module.rsplit('.', node.level)[0]
        names.add(f'{package}.{node.module}')
      else:
        names.add(node.module)
        names.update(f'{node.module}.{alias.name}' for alias in node.names)
  return names


def module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def modules_under(package: str) -> dict[str, pathlib.Path]:
  return {module_name(p): p for p in (ROOT / package).rglob('*.py')}


def first_party_imports(path: pathlib.Path) -> set[str]:
  return {m for m in imports_of(path.read_text(encoding='utf-8'), module_name(path))
          if m.split('.')[0] in FIRST_PARTY}


def test_import_scan_sees_imports_inside_functions():
  source = 'def f():\n  from experiments import common\n  import data_prep.hirenet.build\n'
  assert {'experiments', 'experiments.common', 'data_prep.hirenet.build'} <= imports_of(source)


@pytest.mark.parametrize('package,forbidden', [
    ('hirenet_jax', ('experiments', 'data_prep', 'benchmarks')),
    ('data_prep', ('experiments', 'benchmarks')),
    ('benchmarks', ('experiments',)),
])
def test_no_back_edges(package, forbidden):
  offending = sorted(
      f'{path.relative_to(ROOT)} imports {m}'
      for path in (ROOT / package).rglob('*.py')
      for m in first_party_imports(path) if m.split('.')[0] in forbidden)
  assert not offending, offending


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
