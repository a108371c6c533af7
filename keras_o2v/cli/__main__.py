"""`python -m keras_o2v.cli`: the same as `keras-o2v`."""

import sys

from keras_o2v.cli import main

sys.exit(main())
