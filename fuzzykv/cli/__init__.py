"""The ``fuzzykv`` command line: one click command per verb (``commands``) and the pairs files it
imports and exports (``transfer``: a JSON object or two-column TSV). It sits on top: it may import
anything of fuzzykv, and nothing of fuzzykv imports it (the service starts through it).
"""

from .commands import main

__all__ = ["main"]
