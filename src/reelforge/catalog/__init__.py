"""Catalog services: projects, assets, datasets, model registry, lineage and provenance."""
