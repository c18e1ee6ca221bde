"""``python -m fuzzykv`` is the ``fuzzykv`` command."""

from .cli import main

main(prog_name="fuzzykv")
