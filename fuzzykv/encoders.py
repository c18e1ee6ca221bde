"""Deprecated: ``fuzzykv.encoders`` moved to :mod:`fuzzykv.embed.encoders`; this alias goes in the next release."""

import importlib
import sys
import warnings

warnings.warn("fuzzykv.encoders moved to fuzzykv.embed.encoders; import it from there (this alias goes in the next release)",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("fuzzykv.embed.encoders")
