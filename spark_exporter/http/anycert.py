"""Go's ``RequestClientCert`` and ``RequireAnyClientCert`` for Python's ssl: ask for a client
certificate and accept any one, without verifying its chain.

Python's ``ssl`` module offers no way to accept a certificate it cannot verify (it exposes no
OpenSSL verify callback), and no maintained library plugs one into asyncio's TLS. For fidelity with
exporter-toolkit, this module installs a verify callback that accepts every certificate through
OpenSSL's own ``SSL_CTX_set_verify``, reached with ctypes on the ``SSL_CTX`` that the
``ssl.SSLContext`` wraps. It does so only after confirming, through two independent views of the
same context (options and verify mode read by Python and by OpenSSL), that it found the right
pointer in the right library; when it cannot confirm that, it changes nothing and returns False,
and the caller refuses the mode at start-up.
"""

from __future__ import annotations

import ctypes
import ssl
import sys

_SSL_VERIFY_PEER = 0x01
_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
_VerifyCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
# Module-level so the callback outlives every context it is installed on.
_ACCEPT_ANY = _VerifyCallback(lambda preverify_ok, store_ctx: 1)


def _loaded_libssl() -> str | None:
    """The path of the libssl this process has loaded (the one the ssl module uses), from /proc."""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
            for line in fh:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if "/libssl.so" in path:
                    return path
    except OSError:
        return None
    return None


def _ctx_pointer(ctx: ssl.SSLContext) -> int | None:
    if sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount"):
        return None  # another interpreter or a debug build: the object layout is not the known one
    # CPython's PySSLContext starts with PyObject_HEAD followed by ``SSL_CTX *ctx``.
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    return int(ptr) if ptr else None


def accept_any_client_cert(ctx: ssl.SSLContext, require: bool) -> bool:
    """Ask clients for a certificate (required when ``require``) and accept any; True on success."""
    path = _loaded_libssl()
    ptr = _ctx_pointer(ctx)
    if path is None or ptr is None:
        return False
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return False
    get_options = lib.SSL_CTX_get_options
    get_options.restype, get_options.argtypes = ctypes.c_uint64, [ctypes.c_void_p]
    get_mode = lib.SSL_CTX_get_verify_mode
    get_mode.restype, get_mode.argtypes = ctypes.c_int, [ctypes.c_void_p]
    set_verify = lib.SSL_CTX_set_verify
    set_verify.restype, set_verify.argtypes = None, [ctypes.c_void_p, ctypes.c_int, _VerifyCallback]
    # Two views of one context must agree, before and after a change made through Python.
    before = ctx.options
    if get_options(ptr) != int(before):
        return False
    ctx.options = before | ssl.OP_NO_TICKET
    seen = get_options(ptr)
    ctx.options = before
    if seen != int(before | ssl.OP_NO_TICKET) or get_mode(ptr) != int(ctx.verify_mode):
        return False
    mode = _SSL_VERIFY_PEER | (_SSL_VERIFY_FAIL_IF_NO_PEER_CERT if require else 0)
    set_verify(ptr, mode, _ACCEPT_ANY)
    return ctx.verify_mode == (ssl.CERT_REQUIRED if require else ssl.CERT_OPTIONAL)
