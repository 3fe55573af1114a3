"""JSON answers of the API back into the entity dataclasses the local services return."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from reelforge.catalog.entities import (
    Asset,
    DatasetItem,
    DatasetVersion,
    LineageGraph,
    Model,
    ModelFile,
    Node,
    Project,
)
from reelforge.compute.jobs import Job, JobStatus

T = TypeVar("T")


def build(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from the keys it has; what the API adds (``access``, ``submitted_by``...) is left out."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def project(data: dict[str, Any]) -> Project:
    return build(Project, data)


def asset(data: dict[str, Any]) -> Asset:
    return build(Asset, data)


def dataset(data: dict[str, Any]) -> DatasetVersion:
    dv = build(DatasetVersion, {k: v for k, v in data.items() if k != "items"})
    dv.items = [build(DatasetItem, i) for i in data.get("items") or []]
    return dv


def model(data: dict[str, Any]) -> Model:
    m = build(Model, {k: v for k, v in data.items() if k != "files"})
    m.files = [build(ModelFile, f) for f in data.get("files") or []]
    return m


def job(data: dict[str, Any]) -> Job:
    j = build(Job, data)
    j.status = JobStatus(j.status)
    return j


def lineage(data: dict[str, Any]) -> LineageGraph:
    return LineageGraph(data["root"], {k: build(Node, v) for k, v in data["nodes"].items()})
