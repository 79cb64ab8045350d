"""BUILD must describe the tree: every target's files exist and every module is covered."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ('hirenet_jax', 'data_prep', 'experiments', 'benchmarks', 'tests')
RULES = ('py_library', 'py_binary', 'py_test')


def parse_build(text):
  """Returns the targets of a Bazel-style BUILD file as dicts of their keyword args."""
  targets = []
  for node in ast.parse(text).body:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
      continue
    call = node.value
    rule = getattr(call.func, 'id', None)
    if rule not in RULES:
      if rule not in ('load', 'package', 'exports_files'):
        raise ValueError(f'BUILD: unknown rule {rule!r} at line {node.lineno}')
      continue
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    kwargs['rule'] = rule
    kwargs['line'] = node.lineno
    targets.append(kwargs)
  return targets


@pytest.fixture(scope='module')
def targets():
  return parse_build((ROOT / 'BUILD').read_text())


def test_every_named_file_exists(targets):
  for target in targets:
    files = list(target.get('srcs', [])) + list(target.get('data', []))
    if 'main' in target:
      files.append(target['main'])
    for name in files:
      assert (ROOT / name).is_file(), f"BUILD:{target['line']} {target['name']}: {name} is missing"


def test_every_module_is_covered(targets):
  covered = {src for t in targets for src in t.get('srcs', [])}
  modules = sorted(
      str(p.relative_to(ROOT)) for package in PACKAGES if (ROOT / package).is_dir()
      for p in (ROOT / package).rglob('*.py'))
  missing = [m for m in modules if m not in covered]
  assert not missing, f'modules not in any BUILD target: {missing}'


def test_targets_are_well_formed(targets):
  names = [t['name'] for t in targets]
  assert len(names) == len(set(names)), 'duplicate target names'
  for target in targets:
    for dep in target.get('deps', []):
      assert dep.startswith(':') and dep[1:] in names, f"{target['name']}: unknown dep {dep}"
    if target['rule'] == 'py_test':
      assert all(s.startswith('tests/') for s in target['srcs']), target['name']
    if target['rule'] == 'py_binary':
      assert target.get('main', target['srcs'][0]) in target['srcs']


def test_parser_rejects_what_it_should():
  with pytest.raises(ValueError, match='unknown rule'):
    parse_build('cc_library(name = "x")')
  parsed = parse_build('py_library(name = "a", srcs = ["a.py"], deps = [":b"])')
  assert parsed[0]['srcs'] == ['a.py'] and parsed[0]['deps'] == [':b']
