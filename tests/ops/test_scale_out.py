"""More than one machine (issue 18): uploaded scans in an S3-compatible bucket shared by every
web and worker machine, and Elasticsearch as a cluster with its CA, API key and replicas.

The bucket is moto's standalone S3 server (a real HTTP server speaking the S3 API, which
django-storages reaches over the network through boto3 exactly as it reaches MinIO)."""

from __future__ import annotations

import socket
import subprocess

import boto3
import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.repository.conftest import fonds_a, make_item, ws  # noqa: F401 - fixtures

moto_server = pytest.importorskip("moto.server", reason="moto[server] (dev extra) not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def bucket(settings):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="lantai", aws_secret_access_key="secret-key",
    )  # fmt: skip
    s3.create_bucket(Bucket="lantai-media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "lantai-media", "location": "media", "endpoint_url": endpoint,
                "region_name": "us-east-1", "access_key": "lantai", "secret_key": "secret-key",
                "addressing_style": "path", "default_acl": None, "file_overwrite": False,
            },
        },
    }  # fmt: skip
    settings.X_ACCEL_REDIRECT_PREFIX = "/_protected/"  # nginx has no disk to send from: ignored
    yield s3
    server.stop()


def test_scans_live_in_the_bucket_and_are_sent_through_django(
    bucket,
    ws,  # noqa: F811 - fixture
    archivist_a,
    researcher,
    client_for,
):
    from repository import images
    from tests.repository.test_images import jpeg_with_exif

    assert type(storages["default"]).__name__ == "S3Storage"
    upload = jpeg_with_exif()
    page = images.add_digital_page(
        make_item(ws), SimpleUploadedFile("scan 1.jpg", upload), acting_user=archivist_a
    )
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket="lantai-media")["Contents"]}
    assert f"media/{page.original.name}" in keys  # in the bucket, under the prefix
    stored = bucket.get_object(Bucket="lantai-media", Key=f"media/{page.original.name}")
    original = stored["Body"].read()
    assert original[:2] == b"\xff\xd8"  # a JPEG (EXIF stripped on upload)

    url = f"/staff/catalogue/pages/{page.pk}/original/"
    response = client_for(archivist_a).get(url)
    assert response.status_code == 200 and "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == original
    assert client_for(researcher).get(url).status_code == 404  # the view still decides


def test_elasticsearch_cluster_settings_reach_the_client(settings, tmp_path):
    from search.backends import get_backend

    ca = tmp_path / "intranet-ca.pem"  # the client loads it when it builds its nodes
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=Intranet CA", "-keyout", str(tmp_path / "key.pem"), "-out", str(ca)],
        check=True, capture_output=True,
    )  # fmt: skip
    settings.ELASTICSEARCH_URL = "https://es1.intranet:9200,https://es2.intranet:9200"
    settings.ELASTICSEARCH_REPLICAS = 1
    settings.ELASTICSEARCH_OPTIONS = {"ca_certs": str(ca), "api_key": ("key-id", "key-secret")}
    get_backend.cache_clear()
    try:
        backend = get_backend()
        nodes = backend.client.transport.node_pool.all()
        assert sorted(node.config.host for node in nodes) == ["es1.intranet", "es2.intranet"]
        assert all(node.config.ca_certs == str(ca) for node in nodes)
        assert backend.client._headers["authorization"].startswith("ApiKey ")
        assert backend.replicas == 1
    finally:
        get_backend.cache_clear()
