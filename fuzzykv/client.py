"""Deprecated: ``fuzzykv.client`` moved to :mod:`fuzzykv.serve.client`; this alias goes in the next release."""

import importlib
import sys
import warnings

warnings.warn("fuzzykv.client moved to fuzzykv.serve.client; import it from there (this alias goes in the next release)",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("fuzzykv.serve.client")
