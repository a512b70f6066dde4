"""Built-in partitioners, one module per data family; look them up through the registry."""
