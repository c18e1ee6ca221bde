"""``fuzzykv serve``: the store as an HTTP service (FastAPI + uvicorn).

Nothing here is imported by the library. This package's ``__init__`` imports nothing heavy, so
``fuzzykv --help`` stays quick: FastAPI and uvicorn load in :mod:`fuzzykv.serve.app` and inside the
``serve`` command. Build an app with :func:`fuzzykv.serve.app.create_app`; talk to one with
:class:`fuzzykv.serve.client.RemoteDatabase`.
"""
