"""One declaration per resource: its paths, representation, loader and permissions.

A handler module declares its resource once (`ASSETS = Resource(...)`) and builds its
operations from it (`ASSETS.get(...)`, `ASSETS.update(...)`, …). Each operation then knows
its resource and its role, so the route table, the ETags and preconditions
(`api/etags.py`), idempotency and OpenAPI read one declaration instead of recognising
resources by their paths. Sortable fields are declared beside the list filters in
`ports/lists.py`, which the schemas (validation, OpenAPI) and the storage (column whitelist) read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pydantic

from reliatic_appliance.ports import TenantTx
from reliatic_appliance.schemas.common import collection_of, single_of

if TYPE_CHECKING:
    from reliatic_appliance.api.routes import Handler, Operation

# A service's loader: (tx, id) -> the representation a GET returns, or 404. It runs inside
# a transaction, so a precondition compares the very row a write is about to change.
Loader = Callable[[TenantTx, str], dict[str, Any]]


class Role(StrEnum):
    """What an operation does to its resource; decides its ETag and precondition rules."""

    LIST = "list"  # the collection: no ETag
    CREATE = "create"  # POST to the collection: the new resource's ETag, no precondition
    READ = "read"  # GET of one: ETag, If-None-Match (304) and If-Match
    WRITE = "write"  # PUT/DELETE/POST on one or a sub-resource: If-Match in the write


@dataclass(frozen=True)
class Resource:
    """A resource of the API. `name` is its permission prefix (`assets:read`)."""

    name: str
    noun: str  # "asset", for the path parameter's description
    collection: str  # "/api/v1/assets"
    param: str  # "asset_id"
    model: type[pydantic.BaseModel]  # its representation
    load: Loader
    tag: str  # OpenAPI tag

    @property
    def path(self) -> str:
        return f"{self.collection}/{{{self.param}}}"

    @property
    def path_params(self) -> dict[str, str]:
        return {self.param: f"The {self.noun}'s id."}

    def _op(self, method: str, path: str, handler: Handler, role: Role, **kw: Any) -> Operation:
        from reliatic_appliance.api.routes import Operation  # the route table imports us

        access = "read" if method == "GET" else "write"
        kw.setdefault("permission", f"{self.name}:{access}")
        kw.setdefault("tag", self.tag)
        return Operation(method, path, handler, resource=self, role=role, **kw)

    def list(self, handler: Handler, **kw: Any) -> Operation:
        return self._op(
            "GET",
            self.collection,
            handler,
            Role.LIST,
            response=collection_of(self.model),
            collection=True,
            **kw,
        )

    def create(
        self, handler: Handler, *, response: Any = None, represents: bool | None = None, **kw: Any
    ) -> Operation:
        """POST to the collection: 201, `Location`, and the new resource's ETag. With a
        `response` of another shape (the representation plus a secret shown once), pass
        `represents=True` if the handler marks its response with the representation
        (`responses.represents`)."""
        if represents is None:
            represents = response is None
        return self._op(
            "POST",
            self.collection,
            handler,
            Role.CREATE,
            response=single_of(self.model) if represents else response,
            status=201,
            represents=represents,
            **kw,
        )

    def get(self, handler: Handler, **kw: Any) -> Operation:
        return self._op(
            "GET",
            self.path,
            handler,
            Role.READ,
            response=single_of(self.model),
            path_params=self.path_params,
            represents=True,
            **kw,
        )

    def write(
        self,
        method: str,
        handler: Handler,
        *,
        suffix: str = "",
        response: Any = None,
        status: int = 200,
        represents: bool | None = None,
        **kw: Any,
    ) -> Operation:
        """A write to the resource (`suffix` ""), or to a sub-resource (`/status`): honours
        `If-Match` inside its transaction. Answering with the representation (the default,
        unless `response` or a 204 says otherwise), it carries the new ETag."""
        if represents is None:
            represents = response is None and status != 204
        if response is None and status != 204:
            response = single_of(self.model)
        return self._op(
            method,
            self.path + suffix,
            handler,
            Role.WRITE,
            response=response,
            status=status,
            path_params=self.path_params,
            represents=represents,
            **kw,
        )
