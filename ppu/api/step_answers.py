"""`POST /api/steps/{id}/could_not`: a person answers a manual step "could not do it".

Beside `/api/steps/{id}/confirm`: the same checks and the same kind of write (one pending
`Command`, the audit), carried out by the controller, which fails the kernel waiting on
the step, naming who and why.
"""

# no `from __future__ import annotations`: the route's types are the app's dependencies,
# local to `step_answers`, and FastAPI must see them as objects
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from ppu.api import models as m
from ppu.api import queries as q
from ppu.runtime.control import COULD_NOT
from ppu.store.models import OperatorStepRecord

MAX_ID = 2**53


class CouldNotIn(BaseModel):
    why: str = Field("", max_length=500, description="what stood in the way (for the audit)")


def step_answers(DB: Any, Who: Any, responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    """The route, over the app's own session and token dependencies (`DB`, `Who`)."""
    router = APIRouter(prefix="/api", responses=responses)

    @router.post(
        "/steps/{step_id}/could_not",
        response_model=m.CommandOut,
        status_code=202,
        tags=["operator steps"],
    )
    def step_could_not(
        step_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
        who: Who,  # type: ignore[valid-type]
        s: DB,  # type: ignore[valid-type]
        body: Annotated[CouldNotIn | None, Body()] = None,
    ) -> Any:
        """Say a manual step could not be done: the kernel waiting on it fails (with who
        and why) instead of going on."""
        st = s.get(OperatorStepRecord, step_id)
        if st is None:
            raise HTTPException(404, f"no operator step {step_id}")
        if st.state != "waiting":
            raise HTTPException(409, f"operator step {step_id} is already {st.state}")
        why = (body.why if body is not None else "").strip() or None
        return q.add_command(s, COULD_NOT, str(step_id), who, st.campaign_id, why)

    return router
