"""The sandbox's own LWA application and seller authorisation (documented in README.md)."""

from __future__ import annotations

from sage_amazon.sandbox.amazon.regions import REGION_MARKETPLACES
from sage_amazon.sandbox.seller_catalog import DEFAULT_MARKETPLACE_IDS

LWA_APP_ID = "amzn1.application-oa2-client.sageamazonsandbox0001"
LWA_CLIENT_SECRET = "amzn1.oa2-cs.v1.sage-amazon-sandbox-client-secret"
SP_API_REFRESH_TOKEN = "Atzr|sage-amazon-sandbox-refresh-token-A2SAGESANDBOX01"
# One authorisation per region, as a seller grants them on Amazon. The token above is the sandbox's first one:
# an NA authorisation (the main port is the NA host), as valid there as REGION_REFRESH_TOKENS["NA"].
REGION_REFRESH_TOKENS = {region: f"Atzr|sage-amazon-sandbox-refresh-token-A2SAGESANDBOX01-{region}"
                         for region in ("NA", "EU", "FE")}
APPLICATION_ID = "amzn1.sp.solution.sage-amazon-sandbox"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_SQS_PORT = 9324
DEFAULT_QUEUE_NAME = "sage-amazon-notifications"
# one queue per consuming flow, named as the product names them (SQS_QUEUE_URL + "-<flow>"): a sandbox SQS starts
# with them, as an operator provisions them on AWS (`sage-amazon amazon connect` creates missing ones too)
FLOW_QUEUE_SUFFIXES = ("orders", "settlements", "inventory", "returns")
SQS_ACCOUNT_ID = "123456789012"
SQS_REGION = "us-east-1"
MAIN_REGION = "NA"  # the region of the main port (DEFAULT_PORT) and of SP_API_REFRESH_TOKEN


def sandbox_environment(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                        sqs_port: int = DEFAULT_SQS_PORT) -> dict[str, str]:
    """The environment a pipeline exports to talk to a sandbox on host:port: the NA host, so its marketplaces
    only (the EU and FE hosts are other accounts: supervisor.regional_env)."""
    base = f"http://{host}:{port}"
    return {
        "LWA_APP_ID": LWA_APP_ID,
        "LWA_CLIENT_SECRET": LWA_CLIENT_SECRET,
        "SP_API_REFRESH_TOKEN": SP_API_REFRESH_TOKEN,
        "SP_API_ENDPOINT": base,
        "SP_API_LWA_ENDPOINT": f"{base}/auth/o2/token",
        "SP_API_MARKETPLACES": ",".join(m for m in DEFAULT_MARKETPLACE_IDS if m in REGION_MARKETPLACES[MAIN_REGION]),
        "SQS_QUEUE_URL": f"http://{host}:{sqs_port}/{SQS_ACCOUNT_ID}/{DEFAULT_QUEUE_NAME}",
    }


SANDBOX_CREDENTIALS: dict[str, str] = sandbox_environment()
