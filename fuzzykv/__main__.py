"""``python -m fuzzykv`` is the ``fuzzykv`` command."""

from .cli.commands import main

main(prog_name="fuzzykv")
