"""A local Selling Partner API (and LWA) that python-amazon-sp-api cannot tell from Amazon.

See README.md in this folder. Heavy modules (fastapi, uvicorn, boto3) are imported lazily.
"""

from sage_amazon.sandbox.amazon.credentials import SANDBOX_CREDENTIALS, sandbox_environment

__all__ = ["SANDBOX_CREDENTIALS", "sandbox_environment"]
