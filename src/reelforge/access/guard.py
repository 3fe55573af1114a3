"""Per-project checks, in one place: every door asks the ``Guard`` before it hands out or changes
anything of a project.

What a caller may not see does not exist for them: a project, asset, dataset, model or job of a
project they hold no role in is answered ``NotFound`` with the very message a missing one gets, so
a probe cannot tell "forbidden" from "absent". Only what they can see but may not change is
``PermissionDenied``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reelforge.access.policy import LEVEL_NAMES, READ, Principal
from reelforge.catalog.common import split_version
from reelforge.errors import NotFound, PermissionDenied
from reelforge.ids import id_kind

if TYPE_CHECKING:
    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.entities import Asset, DatasetVersion, Model, Project
    from reelforge.catalog.lineage import LineageGraph
    from reelforge.catalog.models import ModelService
    from reelforge.catalog.projects import ProjectService
    from reelforge.catalog.provenance import Verification
    from reelforge.compute.jobs import Job
    from reelforge.compute.queue import JobService
    from reelforge.compute.registry import TaskSpec

_KIND_OF_PREFIX = {"ast": "asset", "dst": "dataset", "dsv": "dataset", "mdl": "model", "job": "job"}


class Guard:
    def __init__(self, projects: ProjectService, assets: AssetService, datasets: DatasetService,
                 models: ModelService, jobs: JobService) -> None:
        self.projects, self.assets, self.datasets, self.models, self.jobs = projects, assets, datasets, models, jobs

    # -- the one decision ----------------------------------------------------------------------
    @staticmethod
    def check(p: Principal, project_id: str, need: int, missing: str) -> None:
        """Allow, or raise NotFound(``missing``) when the caller may not even read the project,
        or PermissionDenied when they may read but not do this."""
        if not p.can(project_id, READ):
            raise NotFound(missing)
        if not p.can(project_id, need):
            if p.role_level(project_id) >= need:
                raise PermissionDenied(f"this credential's scope does not allow {LEVEL_NAMES[need]} access")
            raise PermissionDenied(f"this needs {LEVEL_NAMES[need]} access to the project")

    @staticmethod
    def require_studio_admin(p: Principal) -> None:
        if not p.studio_admin:
            # Accounts and the studio-wide log are not secret by existence; say what is missing.
            raise PermissionDenied("this needs a studio admin (and a credential with the admin scope)")

    # -- projects ------------------------------------------------------------------------------
    def project(self, p: Principal, ref: str, need: int = READ) -> Project:
        missing = f"no project {ref!r}"
        if not ref:
            raise NotFound(missing)
        try:
            proj = self.projects.get(ref)
        except NotFound:
            raise NotFound(missing) from None
        self.check(p, proj.id, need, missing)
        return proj

    def visible_projects(self, p: Principal) -> list[Project]:
        return [proj for proj in self.projects.list() if p.can(proj.id, READ)]

    # -- things of a project -------------------------------------------------------------------
    def asset(self, p: Principal, asset_id: str, need: int = READ) -> Asset:
        missing = f"no asset {asset_id!r}"
        if id_kind(asset_id) != "ast":
            raise NotFound(missing)
        try:
            asset = self.assets.get(asset_id)
        except NotFound:
            raise NotFound(missing) from None
        self.check(p, asset.project_id, need, missing)
        return asset

    def dataset(self, p: Principal, ref: str, need: int = READ, *, with_items: bool = False) -> DatasetVersion:
        """A dataset version by ``dsv_…``, or ``dst_…`` / ``dst_…@N`` (latest / version N)."""
        missing = f"no dataset {ref!r}"
        name, _ = split_version(ref, "dataset") if "@" in ref else (ref, None)
        if id_kind(name) not in ("dst", "dsv"):
            raise NotFound(missing)
        try:
            dv = self.datasets.get(ref, with_items=with_items)
        except NotFound:
            raise NotFound(missing) from None
        self.check(p, dv.project_id, need, missing)
        return dv

    def model(self, p: Principal, model_id: str, need: int = READ) -> Model:
        missing = f"no model {model_id!r}"
        if id_kind(model_id) != "mdl":
            raise NotFound(missing)
        try:
            model = self.models.get(model_id)
        except NotFound:
            raise NotFound(missing) from None
        self.check(p, model.project_id, need, missing)
        return model

    def job(self, p: Principal, job_id: str, need: int = READ) -> Job:
        missing = f"no job {job_id!r}"
        try:
            job = self.jobs.get(job_id)
        except NotFound:
            raise NotFound(missing) from None
        self.check(p, job.project_id, need, missing)
        return job

    def project_of(self, ref: str) -> str | None:
        """The project an id belongs to (None: no such thing)."""
        kind = _KIND_OF_PREFIX.get(id_kind(ref.split("@")[0]) or "")
        try:
            if kind == "asset":
                return self.assets.get(ref).project_id
            if kind == "dataset":
                return self.datasets.get(ref, with_items=False).project_id
            if kind == "model":
                return self.models.get(ref).project_id
            if kind == "job":
                return self.jobs.get(ref).project_id
        except NotFound:
            return None
        return None

    # -- jobs run with the permissions of their submitter --------------------------------------
    def check_job_inputs(self, p: Principal, spec: TaskSpec, params: dict[str, Any], project_id: str) -> None:
        """Every input a job names by id must be in the job's project (which the submitter can
        write, so read): a job never reads, and its outputs never copy, another project's data.
        Names are resolved inside the project by the job service itself."""
        for fld, kind in spec.inputs.items():
            value = params.get(fld)
            if value is None:
                continue
            refs: Iterable[Any] = value if kind == "assets" and isinstance(value, (list, tuple)) else [value]
            for ref in refs:
                if not isinstance(ref, str):
                    continue  # the params' own validation says what is wrong with it
                head = ref.split("@")[0]
                if id_kind(head) is None:
                    continue
                owner = self.project_of(ref)
                if owner != project_id or not p.can(project_id, READ):
                    what = "asset" if kind in ("asset", "assets") else kind
                    raise NotFound(f"no {what} {ref!r}")

    # -- what a caller may see of shared records -----------------------------------------------
    def lineage(self, p: Principal, graph: LineageGraph) -> LineageGraph:
        """The graph without the nodes of projects the caller cannot read (and without the edges to
        them); NotFound when the root itself is one of those."""
        def readable(node: Any) -> bool:
            project_id = node.detail.get("project_id")
            return project_id is not None and p.can(project_id, READ)

        root = graph.nodes.get(graph.root)
        if root is None or not readable(root):
            raise NotFound(f"nothing with id {graph.root!r}")
        kept = {k: n for k, n in graph.nodes.items() if readable(n)}
        nodes = {k: replace(n, parents=[q for q in n.parents if q in kept]) for k, n in kept.items()}
        return replace(graph, nodes=nodes)

    def verification(self, v: Verification, project_id: str, shown_path: str) -> Verification:
        """A provenance verification as seen from one project: a match in another project (its
        asset, its job) is reported as no match, never named."""
        foreign = False
        if v.asset_id is not None and self.project_of(v.asset_id) != project_id:
            foreign = True
        job_id = (v.record or {}).get("job_id")
        if isinstance(job_id, str) and id_kind(job_id) == "job":
            owner = self.project_of(job_id)
            if owner is not None and owner != project_id:
                foreign = True
        if not foreign:
            return replace(v, path=shown_path)
        return replace(v, path=shown_path, asset_id=None, verified=False, notes=[], catalog=None, matched_by=None,
                       problems=["no asset in this project has these bytes or the recorded asset id"])
