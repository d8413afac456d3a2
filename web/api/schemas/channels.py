from pydantic import BaseModel


class DeliveryIgnored(BaseModel):
    """A verified webhook that carries no new order (202), or a platform's unsigned ping (200): nothing stored."""

    ignored: bool
    event_type: str
    reason: str
