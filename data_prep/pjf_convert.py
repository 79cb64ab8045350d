"""`python -m data_prep.pjf_convert`: the command of data_prep.pjf.convert (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.pjf.convert', run_name='__main__', alter_sys=True)
