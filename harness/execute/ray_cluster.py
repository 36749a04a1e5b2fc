"""Joining a Ray cluster for --executor ray: the address, token authentication, and one line when it cannot be joined.

Ray 2.5x+ clusters use token authentication: `ray start --head` turns it on where a token exists
(~/.ray/auth_token, which any local `ray.init()` writes), and a driver must then present the same token.
Ray itself uses the token only when RAY_AUTH_MODE=token is set, so a driver that has the token but not
that variable is refused ("InvalidAuthToken", retried for about 20 s). `join` therefore:

1. turns token authentication on for this driver when RAY_AUTH_MODE is unset and a token is available
   (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token: Ray's own loader decides);
2. for a HOST:PORT address, asks the cluster once with Ray's own GCS client: a cluster that refuses this
   driver's token (or its lack of one) is a ClaimsError at once, naming the fix, instead of Ray's retries;
3. joins with ray.init, and turns a failure into one line with the fix that fits the address (HOST:PORT,
   auto, or ray://HOST:10001, whose Ray Client needs `pip install "ray[client]"`, not in the `ray` extra).

Not here: what runs on the cluster (harness.execute.ray_executor), starting a local Ray (the executor does).
"""

from __future__ import annotations

import os
import socket

from harness.errors import ClaimsError, first_line

TOKEN_FIX = ("give this driver the head's token: `export RAY_AUTH_TOKEN=$(ray get-auth-token)` with the value printed on the "
             "head, or copy the head's ~/.ray/auth_token to ~/.ray/auth_token here (or point RAY_AUTH_TOKEN_PATH at it)")
CLIENT_EXTRA = 'pip install "ray[client]"'


def enable_token_if_available() -> bool:
    """Token authentication on for this process (and the Ray processes it starts) when RAY_AUTH_MODE is unset and a
    token is available; whether token mode is on. False on a Ray without token authentication."""
    try:
        from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
    except ImportError:  # a Ray older than token authentication
        return False
    return bool(maybe_enable_token_auth_if_token_available(warn_if_disabled=False))


def has_token() -> bool:
    """Whether Ray finds a token for this process (whatever RAY_AUTH_MODE says)."""
    try:
        from ray._raylet import AuthenticationTokenLoader

        return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))
    except (ImportError, AttributeError, TypeError):
        return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                    or os.path.isfile(os.path.expanduser("~/.ray/auth_token")))


def refused(address: str) -> str | None:
    """Why the cluster at HOST:PORT refuses this driver (Ray's AuthenticationError), asked with one request of Ray's own
    GCS client; None when it accepts it, when nothing answers there (ray.init says so) or for ray:// and auto."""
    if "://" in address or address == "auto" or ":" not in address:
        return None
    host, _, port = address.rpartition(":")
    try:
        from ray._raylet import GcsClient
        from ray.exceptions import AuthenticationError
    except ImportError:
        return None
    try:  # Ray's client waits 40 s where nothing listens: ask it only where something does
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            pass
    except (OSError, ValueError):
        return None
    try:
        GcsClient(address=address)
    except AuthenticationError as error:
        return str(error).split(". Note:")[0].split(". Ensure")[0].strip()
    except Exception:  # noqa: BLE001 - anything else is for ray.init to report
        return None
    return None


def join(address: str) -> None:
    """ray.init on the cluster at `address`, with the token when one is available; a ClaimsError in one line otherwise."""
    import ray

    token_on = enable_token_if_available()
    why = refused(address)
    if why is not None:
        held = "this driver's token" if token_on or has_token() else "this driver, which has no token"
        raise ClaimsError(f"--ray-address {address}: the Ray cluster there uses token authentication and refuses {held} "
                          f"({why})", TOKEN_FIX)
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        text = first_line(error)
        raise ClaimsError(f"--ray-address {address}: cannot join a Ray cluster there ({text})", join_fix(address, text)) from None


def join_fix(address: str, problem: str) -> str:
    """The fix for a cluster that could not be joined, by the kind of address and what Ray said."""
    if address.startswith("ray://"):
        if "ray[client]" in problem:
            return (f"Ray Client (ray://) needs {CLIENT_EXTRA} (the project's `ray` extra leaves it out); or run the driver "
                    "on a node of the cluster with --ray-address HOST:6379 (or auto)")
        return ("check that the head runs the Ray Client server (ray start --head --ray-client-server-port 10001) and that its "
                "port is reachable; or run the driver on a node of the cluster with --ray-address HOST:6379 (or auto)")
    return ("start one (ray start --head) or give its address: HOST:6379 from a node that reaches it, or auto on a node of the "
            f"cluster (ray://HOST:10001 needs {CLIENT_EXTRA}); if the cluster uses token authentication, {TOKEN_FIX}")
