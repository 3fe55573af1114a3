"""Request bodies (pydantic): what the OpenAPI document shows and FastAPI checks before a route
runs. Unknown fields are refused, as task parameters are."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    username: str = Field(..., max_length=200)
    password: str = Field(..., max_length=1024)


class TokenIn(Body):
    name: str = Field("", max_length=200)
    scopes: list[Literal["read", "write", "admin"]] = Field(default_factory=lambda: ["read", "write"], min_length=1)
    expires_in_days: float | None = Field(None, gt=0, le=3650, description="none: never expires")


class UserIn(Body):
    username: str = Field(..., max_length=64)
    password: str | None = Field(None, max_length=1024, description="none: the account cannot log in with a password")
    admin: bool = False


class UserPatch(Body):
    password: str | None = Field(None, max_length=1024)
    disabled: bool | None = None
    admin: bool | None = None


class ProjectIn(Body):
    name: str = Field(..., max_length=200)
    description: str = Field("", max_length=10_000)


class RoleIn(Body):
    role: Literal["viewer", "editor", "admin"]


class AssetPatch(Body):
    add_tags: list[str] = Field(default_factory=list, max_length=200)
    remove_tags: list[str] = Field(default_factory=list, max_length=200)
    meta: dict[str, Any] | None = Field(None, description="keys merged into the asset's metadata")


class DatasetIn(Body):
    name: str = Field(..., max_length=200)
    assets: list[str] | None = Field(None, max_length=100_000, description="asset ids; none: every asset matching the filters")
    kind: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    name_glob: str | None = Field(None, max_length=1024)
    labels: dict[str, str] | None = None
    label_from: str | None = Field(None, max_length=200, description="folder, meta:KEY or tag:PREFIX (a tag class:cat labels cat)")
    captions: dict[str, str] | None = None
    splits: list[float] = Field(default_factory=lambda: [0.8, 0.1, 0.1], min_length=1, max_length=3)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    description: str = Field("", max_length=10_000)


class JobPatch(Body):
    priority: int = Field(..., ge=-1000, le=1000, description="new priority of a queued job (higher runs first)")


class JobIn(Body):
    task: str = Field(..., max_length=200)
    params: dict[str, Any] = Field(default_factory=dict, description="validated against GET /api/v1/tasks/{task}")
    priority: int = Field(0, ge=-1000, le=1000, description="higher runs first")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    max_attempts: int | None = Field(None, ge=1, le=100)


class AssetTagsIn(Body):
    asset_ids: list[str] = Field(..., min_length=1, max_length=10_000, description="assets of the project")
    add: list[str] = Field(default_factory=list, max_length=200, description="tags to add to every one")
    remove: list[str] = Field(default_factory=list, max_length=200, description="tags to remove from every one")
