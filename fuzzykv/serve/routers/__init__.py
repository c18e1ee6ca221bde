"""One router per resource: the service (health, info), the pairs, the queries, the neighbours, the key map,
and the web page with the API docs.
"""
