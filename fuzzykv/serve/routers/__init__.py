"""One router per resource: the service (health, info), the pairs, the queries and the neighbours."""
