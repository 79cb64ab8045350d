"""`python -m data_prep.pjf_validate`: the command of data_prep.pjf.validate (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.pjf.validate', run_name='__main__', alter_sys=True)
