"""The web API and search page: FastAPI over :class:`hyperalign.index.Index` (needs fastapi, uvicorn,
python-multipart). ``create_app`` builds the application; ``run_server`` serves it with uvicorn."""

from hyperalign.serve.app import Limits, create_app
from hyperalign.serve.batching import BatchSettings
from hyperalign.serve.server import run_server

__all__ = ["BatchSettings", "Limits", "create_app", "run_server"]
