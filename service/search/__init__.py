"""The search side of the service: use cases, preprocessing lanes, batched forward passes,
the store gateway, the map."""
