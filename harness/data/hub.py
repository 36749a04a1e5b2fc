"""Whether the Hugging Face Hub can be reached, decided once and fast.

transformers and datasets retry an unreachable Hub for about half a minute per file; this module
answers in milliseconds (a DNS look-up and one TCP connect), so that an offline machine falls back to
local files at once, or fails with a message that names the fix. It does not download anything.
"""

from __future__ import annotations

import functools
import os
import socket

HUB_HOST = "huggingface.co"


@functools.lru_cache(maxsize=1)
def hub_is_reachable(timeout_s: float = 3.0) -> bool:
    """True when the Hub answers a TCP connect and offline mode is not forced (HF_HUB_OFFLINE=1)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", f"https://{HUB_HOST}")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def looks_like_local_path(name: str) -> bool:
    """A checkpoint or dataset name that points at the file system rather than at the Hub.

    Hub names may contain one slash ("org/name"), so a slash alone does not make a path: an existing
    path, or one that starts with "/", "./", "../" or "~", does.
    """
    return os.path.exists(name) or name.startswith(("/", "./", "../", "~"))


def expand_local(name: str) -> str:
    """A checkpoint name as given, with a local folder's ~ expanded (a Hub name is left as it is)."""
    return os.path.expanduser(name) if looks_like_local_path(name) else name
