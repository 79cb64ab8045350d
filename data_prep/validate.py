"""`python -m data_prep.validate`: the command of data_prep.hirenet.validate (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.hirenet.validate', run_name='__main__', alter_sys=True)
