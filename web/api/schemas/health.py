from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    """The database and the Temporal service answered."""

    status: Literal["ok"]
