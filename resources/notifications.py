"""The SQS queues receiving SP-API notifications, on boto3: one per consuming flow (sage_amazon.amazon.queues).

Registered by resources.build_resources as `<flow>_queue` (orders_queue, settlements_queue, inventory_queue,
returns_queue), each `SqsResource.from_env(flow)`: SQS_QUEUE_URL + "-<flow>". Each flow's sensor reads only its
own queue. Against a local queue (the sandbox's moto server) the endpoint is the queue URL's host; on AWS it is
boto3's default for the region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from sage_amazon.amazon.queues import CONSUMERS, flow_queue_url, sqs_client


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str


def resource_key(flow: str) -> str:
    """The resource key of a flow's queue (the sensor's parameter name)."""
    return f"{flow}_queue"


class SqsResource(dg.ConfigurableResource):
    queue_url: str
    region: str = "us-east-1"
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""
    endpoint_url: str = ""  # empty: derived from queue_url for non-AWS hosts

    @classmethod
    def from_env(cls, flow: str) -> SqsResource:
        """The queue of `flow` (orders, settlements, inventory, returns) from SQS_QUEUE_URL."""
        from sage_amazon import config

        return cls(
            queue_url=flow_queue_url(config.load().sqs_queue_url, flow),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID") if os.environ.get("AWS_ACCESS_KEY_ID") else "",
            aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY") if os.environ.get("AWS_SECRET_ACCESS_KEY") else "",
        )

    @classmethod
    def all_from_env(cls) -> dict[str, SqsResource]:
        """Every flow's queue under its resource key."""
        return {resource_key(flow): cls.from_env(flow) for flow in CONSUMERS}

    def _client(self):
        key, secret = self.aws_access_key_id, self.aws_secret_access_key
        if isinstance(key, dg.EnvVar):  # used outside a run: resolve now
            key = key.get_value()
        if isinstance(secret, dg.EnvVar):
            secret = secret.get_value()
        return sqs_client(self.queue_url, self.region, self.endpoint_url, key or "", secret or "")

    def receive(self, max_messages: int = 10, wait_seconds: int = 1, visibility_timeout: int = 120) -> list[QueueMessage]:
        res = self._client().receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=wait_seconds, VisibilityTimeout=visibility_timeout)
        return [QueueMessage(m["MessageId"], m["ReceiptHandle"], m.get("Body", "")) for m in res.get("Messages", [])]

    def receive_batch(self, limit: int = 100, wait_seconds: int = 1,
                      visibility_timeout: int = 120) -> list[QueueMessage]:
        """Up to `limit` messages, in receives of 10, stopping at the first empty receive."""
        out: list[QueueMessage] = []
        while len(out) < limit:
            got = self.receive(min(10, limit - len(out)), wait_seconds if not out else 0, visibility_timeout)
            if not got:
                break
            out.extend(got)
        return out

    def release(self, receipt_handles: list[str], visibility_timeout: int = 0) -> None:
        """Make received messages visible again at once (for another consumer of the queue), or after
        `visibility_timeout` seconds (a back-off, or more time for the run that handles them)."""
        client = self._client()
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": int(visibility_timeout)}
                         for i, h in enumerate(chunk)])

    def delete(self, receipt_handles: list[str]) -> int:
        """Delete messages (10 per call); a handle that expired is ignored. Returns how many were deleted."""
        client = self._client()
        deleted = 0
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start:start + 10]
            res = client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)])
            deleted += len(res.get("Successful", []))
        return deleted
