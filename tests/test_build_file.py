"""BUILD must describe the tree: it is what `python -m tools.build_file` generates from the
imports, every target's files exist and every module is covered."""

import ast
import pathlib

import pytest

from tools import build_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = build_file.FOLDERS
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


def test_build_is_generated():
  assert (ROOT / 'BUILD').read_text(encoding='utf-8') == build_file.generate(ROOT), (
      'BUILD is stale: run `python -m tools.build_file`')


def write_tree(root, files):
  for name, text in files.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


TINY_TREE = {
    'hirenet_jax/__init__.py': '',
    'hirenet_jax/core/__init__.py': '',
    'hirenet_jax/core/a.py': 'import json\ndef f():\n  from hirenet_jax.core import b\n',
    'hirenet_jax/core/b.py': 'from . import c\n',
    'hirenet_jax/core/c.py': '',
    'experiments/__init__.py': '',
    'experiments/run.py': ('import runpy\nfrom hirenet_jax.core.a import f\n'
                           "if __name__ == '__main__':\n"
                           "  runpy.run_module('experiments.other')\n"),
    'experiments/other.py': "print('__main__')\n",
    'tests/helpers.py': 'import experiments.other\n',
    'tests/fixtures/x.json': '{}',
    'tests/test_a.py': "import helpers\nFIXTURE = 'fixtures/x.json'\n",
}


def test_generator_reads_deps_and_kinds_from_the_code(tmp_path):
  write_tree(tmp_path, TINY_TREE)
  got = {t.name: t for t in build_file.targets(tmp_path)}
  assert got['hirenet_jax.core.a'].deps == ['hirenet_jax.core.b']  # Function-level import.
  assert got['hirenet_jax.core.b'].deps == ['hirenet_jax.core.c']  # Relative import.
  assert got['experiments.run'].deps == ['experiments.other', 'hirenet_jax.core.a']
  assert [got[n].rule for n in ('experiments.run', 'experiments.other', 'test_a', 'helpers')] == [
      'py_binary', 'py_library', 'py_test', 'py_library']
  assert got['test_a'].deps == ['helpers'] and got['test_a'].data == ['tests/fixtures/x.json']
  # What it writes is a BUILD the structural checks below accept, and the same every time.
  text = build_file.generate(tmp_path)
  assert text == build_file.generate(tmp_path)
  assert {t['name'] for t in parse_build(text)} == set(got)


def test_generator_follows_a_new_import(tmp_path):
  write_tree(tmp_path, TINY_TREE)
  before = build_file.generate(tmp_path)
  (tmp_path / 'hirenet_jax/core/c.py').write_text('from hirenet_jax.core import a\n')
  after = {t.name: t for t in build_file.targets(tmp_path)}
  assert after['hirenet_jax.core.c'].deps == ['hirenet_jax.core.a']
  assert build_file.generate(tmp_path) != before


def test_check_fails_on_a_stale_build(tmp_path, monkeypatch):
  write_tree(tmp_path, TINY_TREE)
  monkeypatch.setattr(build_file, 'ROOT', tmp_path)
  assert build_file.main([]) == 0 and build_file.main(['--check']) == 0
  build = tmp_path / 'BUILD'
  build.write_text(build.read_text().replace('":hirenet_jax.core.b"', '":hirenet_jax.core.c"'))
  assert build_file.main(['--check']) == 1


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
