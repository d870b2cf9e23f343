"""Validation scripts; ``python -m validation.heldout`` runs one as a module of this package."""
