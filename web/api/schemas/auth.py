from pydantic import BaseModel, Field


class Token(BaseModel):
    """A bearer token for ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str
    role: str = Field(description="the first of the user's roles")
    roles: list[str]


class Me(BaseModel):
    username: str
    role: str = Field(description="the first of the caller's roles")
    roles: list[str]
    channels: list[str] = Field(description="the channels the caller is limited to; empty: all")
    warehouses: list[str] = Field(description="the warehouses the caller is limited to; empty: all")
    key_id: str | None = Field(default=None, description="set when a channel API key calls")
