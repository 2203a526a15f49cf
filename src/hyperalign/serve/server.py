"""Run the search app with uvicorn, on this machine only unless told otherwise."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hyperalign.runtime.index import Index
from hyperalign.serve.app import Limits, create_app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(
    index: Index,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_bytes: int = Limits.max_upload_bytes,
    log: Callable[[str], None] | None = None,
) -> None:
    """Serve ``index`` until interrupted. Binding beyond loopback exposes the API to the network: it is logged."""
    try:
        import uvicorn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("hyperalign serve needs uvicorn and fastapi: pip install fastapi uvicorn python-multipart") from e
    say = log or (lambda msg: None)
    if not _is_loopback(host):
        say(f"warning: binding {host}: the search API will be reachable from other machines")
    app = create_app(index, Limits(max_upload_bytes=max_upload_bytes))
    say(f"serving {len(index.shapes)} shapes and {len(index.captions)} captions at http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")
