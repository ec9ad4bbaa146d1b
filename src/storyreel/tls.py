"""TLS without a proxy: the certificate and key the coordinator serves with (uvicorn's own
TLS), and the trust a client puts in it (the system's CAs, or a CA file of the farm's own).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import ConfigError


@dataclass(frozen=True)
class ServerTLS:
    """A PEM certificate (chain) and its private key."""

    cert: Path
    key: Path

    @classmethod
    def from_options(cls, cert: Path | None, key: Path | None) -> ServerTLS | None:
        """--tls-cert and --tls-key come together or not at all; checked before serving."""
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        tls = cls(cert.absolute(), key.absolute())
        tls.check()
        return tls

    def check(self) -> None:
        """Load the pair once, so a bad file is a clear error before the port is bound."""
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except FileNotFoundError as exc:
            raise ConfigError(f"cannot serve TLS: no such file {exc.filename}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot serve TLS with {self.cert} and {self.key}: "
                              f"{getattr(exc, 'reason', None) or exc}") from exc


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """What a node trusts: the CAs in `ca_file`, else the system's."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot read the CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from exc


def pinned_context(cert: Path) -> ssl.SSLContext:
    """Trust exactly one certificate, whatever names it holds: `status` on the main worker's
    machine reaching the coordinator through 127.0.0.1 with the certificate it serves."""
    context = ssl.create_default_context(cafile=str(cert))
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the served certificate is the anchor
    context.check_hostname = False  # pinned to the one certificate, not to a name
    return context


def certificate_refused(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind a transport error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
