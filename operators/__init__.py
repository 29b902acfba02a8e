"""ClassLab's operators: thin wrappers over the ``classlab`` core, one module per family."""
