"""README's Quickstart is exactly two commands, and CI runs the second one verbatim."""

import pathlib
import re

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
