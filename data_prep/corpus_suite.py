"""`python -m data_prep.corpus_suite`: the command of data_prep.hirenet.corpus_suite (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.hirenet.corpus_suite', run_name='__main__', alter_sys=True)
