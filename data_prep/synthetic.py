"""`python -m data_prep.synthetic`: the command of data_prep.hirenet.synthetic (its docstring has the usage)."""

import runpy

if __name__ == '__main__':
  runpy.run_module('data_prep.hirenet.synthetic', run_name='__main__', alter_sys=True)
