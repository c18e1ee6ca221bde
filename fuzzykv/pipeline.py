"""Deprecated: ``fuzzykv.pipeline`` moved to :mod:`fuzzykv.search.pipeline`; this alias goes in the next release."""

import importlib
import sys
import warnings

warnings.warn("fuzzykv.pipeline moved to fuzzykv.search.pipeline; import it from there (this alias goes in the next release)",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("fuzzykv.search.pipeline")
