"""``rclone serve s3`` over HTTPS with a certificate from a private CA the test run makes.

``private_ca``: a CA and a server certificate for ``127.0.0.1``/``localhost``
(``cryptography``), written as PEM files. ``rclone_s3_tls``: rclone serving S3
with that certificate; its ``S3Server.ca_bundle`` is the CA file a client must
trust (``AWS_CA_BUNDLE``), as with MinIO behind a company CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.process import free_port, run_server
from tests.servers.s3 import S3Server, rclone_argv


@dataclass(frozen=True)
class PrivateCa:
    """PEM files: the CA certificate, and the server's certificate and key."""

    ca: Path
    cert: Path
    key: Path


def make_private_ca(folder: Path) -> PrivateCa:
    """A fresh CA and a server certificate it signed, for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ivrimeet test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = PrivateCa(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture(scope="session")
def rclone_s3_tls() -> Iterator[S3Server]:
    """``rclone serve s3 --cert/--key`` on 127.0.0.1; trust ``.ca_bundle`` to reach it."""
    folder = Path(tempfile.mkdtemp(prefix="rclone-s3-tls-"))
    try:
        ca = make_private_ca(folder)
        root = folder / "data"
        root.mkdir()
        port = free_port()
        argv = [*rclone_argv(port, root), "--cert", str(ca.cert), "--key", str(ca.key)]
        with run_server(argv, port, name="rclone-tls") as proc:
            yield S3Server("rclone-tls", f"https://127.0.0.1:{port}", proc, ca_bundle=str(ca.ca))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
