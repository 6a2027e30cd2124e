"""A request that failed on its connection, as the runner's `CallError`: whether a retry can help."""

from __future__ import annotations

import ssl

from workbench.evals.model_io import CallError, short_text

UNTRUSTED_CERTIFICATE_HINT = (
    "the endpoint's certificate is not trusted: set SSL_CERT_FILE to a CA bundle that includes it (or its issuer)"
)


def connection_error(what: str, err: BaseException) -> CallError:
    """A request that failed on the connection, as a CallError: retried, unless no retry can succeed;
    `unreached` when no connection was made (see `CallError`).

    A certificate that fails verification fails the same way on every attempt: it was retried
    through the whole budget (a 5-case run took 28 s) and ended with no word of the fix.
    """
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(err)):
        return CallError(f"{what}: {_cause(err)}", retryable=False, hint=UNTRUSTED_CERTIFICATE_HINT, unreached=True)
    return CallError(f"{what}: {_cause(err)}", retryable=True, unreached=never_connected(err))


def never_connected(err: BaseException) -> bool:
    """No connection was made (refused, DNS failure, connect timeout, TLS handshake), as opposed to
    a response that broke or timed out after the endpoint took the request."""
    import httpx2  # the SDK's HTTP client: already imported with it

    return any(isinstance(cause, (httpx2.ConnectError, httpx2.ConnectTimeout)) for cause in _causes(err))


def _cause(err: BaseException) -> str:
    cause = err.__cause__ or err.__context__
    return short_text(str(cause) if cause else str(err))


def _causes(err: BaseException) -> list[BaseException]:
    """The error and what it was raised from or while handling, innermost last."""
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
