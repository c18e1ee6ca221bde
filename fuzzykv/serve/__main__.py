"""``python -m fuzzykv.serve STORE ...`` is ``fuzzykv serve STORE ...``."""

from .command import serve

serve(prog_name="python -m fuzzykv.serve")
