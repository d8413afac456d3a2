"""The Temporal client of the settings: one way to connect, for the web app, the worker and the CLI."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.runtime import Runtime

from oms.settings import Settings, get_settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS from the ``OMS_TEMPORAL_TLS_*`` files; False (plain gRPC) when none is set."""
    ca, cert, key = settings.temporal_tls_ca, settings.temporal_tls_cert, settings.temporal_tls_key
    if not (ca or cert or key):
        return False
    if bool(cert) != bool(key):
        raise ValueError("OMS_TEMPORAL_TLS_CERT and OMS_TEMPORAL_TLS_KEY go together: set both or neither")
    return TLSConfig(
        server_root_ca_cert=ca.read_bytes() if ca else None,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
    )


async def connect(runtime: Runtime | None = None) -> Client:
    settings = get_settings()
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, runtime=runtime, tls=tls_config(settings)
    )
