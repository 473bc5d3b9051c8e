"""tokenledger: a usage ledger for LLM API gateways, speaking New API's log API."""

__version__ = "0.1.0"
