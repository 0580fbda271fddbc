"""Which Dask client a scale-out call runs on, and the errors it raises."""

from __future__ import annotations

import atexit
import threading
from typing import Any

__all__ = ["get_client", "PartitionError", "wait_for"]

_LOCK = threading.Lock()
_OWNED: dict[str, object] = {}


class PartitionError(RuntimeError):
    """One partition of a distributed job failed; the message names it and the cause."""


def _distributed():
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - dask[distributed] is in the `scale` extra
        raise ImportError("mintlab.scale needs Dask: pip install 'mintlab[scale]'") from err
    return distributed


def get_client(client: Any = None) -> Any:
    """The ``distributed.Client`` to run on.

    Parameters
    ----------
    client : distributed.Client, str or None
        A client is used as it is; a string is a scheduler address
        (``"tcp://host:8786"``) to connect to; ``None`` takes the current
        default client if one exists, else starts (once per process) a
        ``LocalCluster`` of two single-threaded worker processes, closed at
        exit.
    """
    distributed = _distributed()
    if isinstance(client, distributed.Client):
        return client
    with _LOCK:
        if isinstance(client, str):
            if client not in _OWNED:
                _OWNED[client] = distributed.Client(client)
            return _OWNED[client]
        if client is not None:
            raise TypeError(f"client must be a distributed.Client, a scheduler address or None, "
                            f"got {type(client).__name__}")
        try:
            return distributed.get_client()
        except ValueError:
            pass
        if "local" not in _OWNED:
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            _OWNED["local"] = distributed.Client(cluster)
            atexit.register(_close_owned)
        return _OWNED["local"]


def _close_owned():
    for c in list(_OWNED.values()):
        try:
            cluster = c.cluster
            c.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
    _OWNED.clear()


def wait_for(client, futures, progress: bool = False, what: str = "partition"):
    """Wait for ``futures`` (one per partition); raise :class:`PartitionError` at a failure."""
    distributed = _distributed()
    if progress:
        distributed.progress(futures)
    distributed.wait(futures)
    for i, f in enumerate(futures):
        if f.status == "error":
            exc = f.exception()
            raise PartitionError(f"{what} {i} failed: {type(exc).__name__}: {exc}") from exc
    return futures
