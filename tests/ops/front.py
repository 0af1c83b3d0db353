"""The deployed nginx site (deploy/nginx) run from a scratch directory in front of a local
Uvicorn: shared by the CI test of the production kit (tests/ops/test_deploy.py) and the load
bench (bench/load.py), so both drive the very configuration that is shipped."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def nginx_conf(tmp_path: Path, body: str, *, worker_connections: int = 64) -> Path:
    """A complete nginx.conf under ``tmp_path`` (pid, logs and temp paths there) around
    ``body``, the ``http`` block's content."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (tmp_path / name).mkdir(exist_ok=True)
    user = "user root root;" if os.getuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp_path}/logs/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
{body}
}}
"""
    )
    return conf


def locations(tmp_path: Path) -> Path:
    """The shipped locations snippet with the data directory moved under ``tmp_path``."""
    snippet = tmp_path / "lantai-locations.conf"
    text = (DEPLOY / "nginx" / "lantai-locations.conf").read_text()
    snippet.write_text(text.replace("/var/lib/lantai/", f"{tmp_path}/"))
    return snippet


def plain_http_site(tmp_path: Path, app_port: int, front_port: int, **conf) -> Path:
    """The shipped site's upstream and maps with one plain-HTTP server on ``front_port`` that
    includes the shipped locations (TLS is the only part left out)."""
    site = (DEPLOY / "nginx" / "lantai.conf").read_text()
    upstream_and_map = "\n".join(
        re.findall(r"^(?:upstream|map) .*?^\}", site, flags=re.M | re.S)
    ).replace("127.0.0.1:8000", f"127.0.0.1:{app_port}")
    return nginx_conf(
        tmp_path,
        f"{upstream_and_map}\nserver {{ listen 127.0.0.1:{front_port}; "
        f"include {locations(tmp_path)}; }}",
        **conf,
    )
