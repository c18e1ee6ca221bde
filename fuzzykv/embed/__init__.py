"""Text -> vectors: the first stage of a query and of every write.

Holds word vectors and how they load (``vectors``, ``loading``), your own encoders (``encoders``),
which of the two a store uses (``choose``), words without a vector (``unknown``, ``spelling``) and
query composition (``compose``). It may import only ``fuzzykv.errors``, ``fuzzykv.settings`` and
``fuzzykv.cache``: nothing of search, the store or the front doors.
"""
