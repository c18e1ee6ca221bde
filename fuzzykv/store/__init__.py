"""Where pairs live on disk: the store file beneath ``Database.open``.

The SQLite store (``sqlite``) with its schema (``schema``), its rows (``rows``) and file checks (``files``), the mapped
snapshot of a large store's pairs (``snapshot``), the in-memory pairs kept in step with other
processes (``synced``) and what a store records about how it was made (``record``). It may import
``fuzzykv.pairs``, ``fuzzykv.embed`` (to recognise the embeddings a store was made with) and the
bottom modules (errors, settings, cache), never search or a front door.
"""
