"""The Temporal client's mTLS settings: read from the OMS_TEMPORAL_TLS_* files, both halves or neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import TLSConfig

from oms.settings import Settings
from oms.temporal.client import tls_config


def test_no_tls_setting_means_plain_grpc():
    assert tls_config(Settings()) is False


def test_the_pem_files_become_the_clients_tls(tmp_path: Path):
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"-----{name}-----".encode())
    config = tls_config(
        Settings(
            temporal_tls_ca=tmp_path / "ca.pem",
            temporal_tls_cert=tmp_path / "cert.pem",
            temporal_tls_key=tmp_path / "key.pem",
        )
    )
    assert config == TLSConfig(
        server_root_ca_cert=b"-----ca-----", client_cert=b"-----cert-----", client_private_key=b"-----key-----"
    )


def test_a_certificate_without_its_key_is_refused(tmp_path: Path):
    (tmp_path / "cert.pem").write_bytes(b"cert")
    with pytest.raises(ValueError, match="OMS_TEMPORAL_TLS_CERT and OMS_TEMPORAL_TLS_KEY go together"):
        tls_config(Settings(temporal_tls_cert=tmp_path / "cert.pem"))
