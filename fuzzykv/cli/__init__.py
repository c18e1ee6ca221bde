"""The ``fuzzykv`` command line: one click command per verb (``commands``), their options (``options``),
what they print (``output``), building the caches ahead of time (``warm``) and the pairs files it
imports and exports (``transfer``: a JSON object or two-column TSV). It sits on top: it may import
anything of fuzzykv, and nothing of fuzzykv imports it (the service starts through it).
"""

from .commands import main

__all__ = ["main"]
