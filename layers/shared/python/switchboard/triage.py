"""DLQ triage: read how many messages wait in each DLQ and alert when any is non-empty."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from switchboard.aws import client

logger = Logger(child=True)


class DlqCensus:
    def __init__(self, dlq_urls: dict[str, str], topic_arn: str, sqs: Any = None, sns: Any = None) -> None:
        self.dlq_urls = dlq_urls
        self.topic_arn = topic_arn
        self.sqs = sqs or client("sqs")
        self.sns = sns or client("sns")

    def depths(self) -> dict[str, int]:
        depths = {}
        for name, url in sorted(self.dlq_urls.items()):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def run(self) -> dict[str, Any]:
        depths = self.depths()
        waiting = {name: depth for name, depth in depths.items() if depth}
        logger.info("dlq census", depths=depths)
        if waiting:
            self.sns.publish(
                TopicArn=self.topic_arn,
                Subject="Switchboard: messages in dead-letter queues",
                Message=json.dumps({"waiting": waiting}, indent=2),
            )
        return {"depths": depths, "alerted": bool(waiting)}
