"""For queue sensors' tests: a run record with a requested run's tags stands for the run the daemon would launch (the
sensor's next tick finds it by its batch tag, sage_amazon.amazon.notification_runs, with the status the test gives
it); a queue's depth."""

import dagster as dg


@dg.job
def stand_in():
    pass


def record(instance: dg.DagsterInstance, request: dg.RunRequest, failed: bool = False) -> None:
    """The requested run, finished: successful, or failed."""
    if failed:
        instance.report_run_failed(instance.create_run_for_job(stand_in, tags=request.tags))
    else:
        instance.create_run_for_job(stand_in, tags=request.tags, status=dg.DagsterRunStatus.SUCCESS)


def depth(client, queue_url: str) -> int:
    """Messages on a queue, visible or hidden (moto counts exactly)."""
    attrs = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
