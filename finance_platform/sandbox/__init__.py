"""A local Alpha Vantage sandbox: same protocol, deterministic synthetic prices, offline."""

from finance_platform.sandbox.server import SANDBOX_HEADER, SandboxServer

__all__ = ["SANDBOX_HEADER", "SandboxServer"]
