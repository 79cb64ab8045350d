"""`python -m data_prep.build`: the command of data_prep.hirenet.build (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.hirenet.build', run_name='__main__', alter_sys=True)
