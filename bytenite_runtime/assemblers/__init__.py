"""Built-in assemblers, one module per data family; look them up through the registry."""
