"""TLS to Keystone: a CA bundle (``OS_CACERT``, ``cacert`` in clouds.yaml) and ``--insecure`` are honoured.

The bed speaks plain HTTP, so the test puts a TLS-terminating proxy in front
of its Keystone, with a certificate signed by a CA made for the test, and
points ``OS_AUTH_URL`` at it.  Only Keystone is behind TLS: the catalog's
other endpoints stay http, as they are on the bed.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import Service
from tests.services.openstack import agent


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA of the test and a certificate it signed for 127.0.0.1: paths of the CA, the certificate, its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Freezer test CA")])
    usage = {k: False for k in ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                                "encipher_only", "decipher_only")}
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class TlsProxy:
    """TLS on a free port of 127.0.0.1, forwarded in clear to ``target`` (a Keystone that speaks only HTTP).

    Counts the handshakes that succeeded and the ones the client broke off
    (a client that does not trust the certificate).
    """

    def __init__(self, target: int, cert: Path, key: Path) -> None:
        self.target = target
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.handshakes = self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            client.close()
            return
        self.handshakes += 1
        with tls, socket.create_connection(("127.0.0.1", self.target)) as upstream:
            peers: dict[Any, Any] = {tls: upstream, upstream: tls}
            while True:
                ready = [tls] if tls.pending() else select.select(list(peers), [], [], 120)[0]
                if not ready:
                    return
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                        if not data:
                            return
                        peers[sock].sendall(data)
                    except OSError:
                        return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def tls(openstack_cloud: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TlsProxy, Path]]:
    """The proxy in front of the bed's Keystone and the CA bundle that trusts it."""
    ca, cert, key = _certificates(tmp_path_factory.mktemp("tls"))
    proxy = TlsProxy(int(openstack_cloud.env["KS_PORT"]), cert, key)
    yield proxy, ca
    proxy.close()


@pytest.fixture(scope="module")
def image(cloud: Any) -> Iterator[Any]:
    made = cloud.image.post("/images", json={"name": "tls-img", "container_format": "bare", "disk_format": "raw"})
    image_id = made.json()["id"]
    cloud.image.put(f"/images/{image_id}/file", data=b"tls test image\n" * 1000,
                    headers={"Content-Type": "application/octet-stream"})
    yield cloud.image.get_image(image_id)
    cloud.image.delete_image(image_id)


def _backup(service: Service, image: Any, container: Path, *extra: str,
            env: dict[str, str]) -> Any:
    return agent(service, "--mode", "glance", "--engine", "glance", "--glance-image-id", image.id,
                 "--backup-name", "tls", "--storage", "local", "--container", str(container), *extra, env=env)


def _stored(container: Path) -> int:
    return len([p for p in container.rglob("metadata") if p.is_file()])


def test_keystone_behind_tls_needs_the_ca_or_insecure(openstack_cloud: Service, tls: tuple[TlsProxy, Path],
                                                      image: Any, tmp_path: Path) -> None:
    proxy, ca = tls
    https = {"OS_AUTH_URL": f"https://127.0.0.1:{proxy.port}/v3"}
    container = tmp_path / "c"

    untrusted = _backup(openstack_cloud, image, container, env=https)
    lines = [line for line in untrusted.stderr.strip().splitlines() if line.strip()]
    assert untrusted.returncode != 0 and len(lines) == 1 and "Traceback" not in untrusted.stderr, untrusted.stderr
    assert "TLS error talking to Keystone" in lines[0] and "CERTIFICATE_VERIFY_FAILED" in lines[0], lines[0]
    assert "set OS_CACERT" in lines[0] and proxy.refused >= 1 and _stored(container) == 0

    trusted = _backup(openstack_cloud, image, container, env=https | {"OS_CACERT": str(ca)})
    assert trusted.returncode == 0, trusted.stderr
    assert _stored(container) == 1 and proxy.handshakes >= 1  # Keystone was reached through TLS

    handshakes = proxy.handshakes
    insecure = _backup(openstack_cloud, image, container, "--insecure", env=https)
    assert insecure.returncode == 0, insecure.stderr
    assert _stored(container) == 2 and proxy.handshakes > handshakes


def test_clouds_yaml_cacert(openstack_cloud: Service, tls: tuple[TlsProxy, Path], image: Any,
                            tmp_path: Path) -> None:
    proxy, ca = tls
    env = openstack_cloud.env
    auth = {"auth_url": f"https://127.0.0.1:{proxy.port}/v3", "username": env["OS_USERNAME"],
            "password": env["OS_PASSWORD"], "project_name": env["OS_PROJECT_NAME"], "user_domain_name": "Default",
            "project_domain_name": "Default"}
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {
        "trusting": {"auth": auth, "region_name": env["OS_REGION_NAME"], "cacert": str(ca)},
        "plain": {"auth": auth, "region_name": env["OS_REGION_NAME"]}}}))
    only_yaml = Service("yaml", tmp_path, {"OS_CLIENT_CONFIG_FILE": str(config)})
    container = tmp_path / "c"

    refused = _backup(only_yaml, image, container, env={"OS_CLOUD": "plain"})
    assert refused.returncode != 0 and "TLS error talking to Keystone" in refused.stderr
    assert "Traceback" not in refused.stderr
    handshakes = proxy.handshakes
    done = _backup(only_yaml, image, container, env={"OS_CLOUD": "trusting"})
    assert done.returncode == 0, done.stderr
    assert _stored(container) == 1 and proxy.handshakes > handshakes
