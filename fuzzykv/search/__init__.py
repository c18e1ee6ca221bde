"""Vectors -> answers: the second and third stages of a query.

Attention of query vectors over a store's keys (``attention``: scores, softmax, the exact partial
sums that shards merge), the blend, and the decode of a blend to words through a vocabulary index
(``decode``, ``annoy_index``, ``exact``); ``pipeline`` wires them from one store's settings, and
``key_index`` narrows attention to the likeliest keys. It may import ``fuzzykv.embed``,
``fuzzykv.pairs``, ``fuzzykv.results`` and the bottom modules (errors, settings, cache), never the
store or a front door.
"""
