"""README's Quickstart is exactly two commands, and CI runs the second one verbatim; its
Layout names every package and every command module, within 250 lines."""

import ast
import pathlib
import re

from tools.build_file import has_main_block

ROOT = pathlib.Path(__file__).resolve().parents[1]


def quickstart_commands():
  text = (ROOT / 'README.md').read_text(encoding='utf-8')
  section = text.split('## Quickstart', 1)[1].split('\n## ', 1)[0]
  block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
  return [line for line in block.splitlines() if line.strip()]


def test_quickstart_has_two_commands_main_job_then_tests():
  commands = quickstart_commands()
  assert len(commands) == 2, commands
  assert commands[0].endswith('python -m experiments.train --modality=text')
  assert 'pytest' in commands[1] and "'.[test]'" in commands[1]


def test_ci_runs_the_readme_test_command():
  ci = (ROOT / '.ci' / 'run').read_text()
  assert quickstart_commands()[1] in ci.splitlines()


def layout_entries() -> dict[str, str]:
  """{top-level folder/: its text} from the README's Layout block."""
  text = (ROOT / 'README.md').read_text(encoding='utf-8')
  block = text.split('## Layout', 1)[1].split('```', 2)[1]
  entries, current = {}, None
  for line in block.splitlines()[1:]:
    if line and not line[0].isspace():
      current = line.split()[0]
      entries[current] = ''
    if current:
      entries[current] += line + '\n'
  return entries


def test_layout_names_every_package_and_command():
  entries = layout_entries()
  tops = {p.name for p in ROOT.iterdir() if (p / '__init__.py').is_file()}
  assert {f'{t}/' for t in tops} | {'tests/', 'docs/'} <= set(entries), sorted(entries)
  missing = []
  for top in sorted(tops):
    entry = entries[f'{top}/']
    missing += [f'{top}/{p.parent.name}/' for p in (ROOT / top).glob('*/__init__.py')
                if f'{p.parent.name}/' not in entry]
    if top in ('experiments', 'data_prep'):
      commands = [p.stem for p in (ROOT / top).glob('*.py')
                  if has_main_block(ast.parse(p.read_text(encoding='utf-8')))]
      missing += [f'{top}/{c}.py' for c in commands
                  if not re.search(rf'(?<![\w/.]){c}(?![\w/])', entry)]
  assert not missing, f'README Layout does not name {sorted(missing)}'


def test_readme_fits_in_250_lines():
  assert len((ROOT / 'README.md').read_text(encoding='utf-8').splitlines()) <= 250
