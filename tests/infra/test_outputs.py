"""The stack outputs that ``switchboard --stack NAME`` reads."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from infra.secrets import SECRET_TAG
from infra.stack import SwitchboardStack, secret_output_id
from tests.infra.support import logical_id


def test_outputs_name_the_resources_the_cli_needs(stack: SwitchboardStack, template: Template) -> None:
    template.has_output("ApiUrl", {"Value": Match.object_like({"Fn::Join": Match.any_value()})})
    template.has_output("TasksTableName", {"Value": {"Ref": logical_id(stack.state.tasks_table)}})
    template.has_output("MemoryTableName", {"Value": {"Ref": logical_id(stack.state.memory_table)}})
    template.has_output("IngestQueueUrl", {"Value": {"Ref": logical_id(stack.queues.ingest)}})
    template.has_output("AlertTopicArn", {"Value": {"Ref": logical_id(stack.monitoring.alert_topic)}})
    dlq_urls = template.find_outputs("DlqUrls")["DlqUrls"]["Value"]["Fn::Join"][1]
    assert {part["Ref"] for part in dlq_urls if isinstance(part, dict)} == {
        logical_id(dlq) for dlq in stack.queues.dlqs.values()
    }
    queue_urls = template.find_outputs("QueueUrls")["QueueUrls"]["Value"]["Fn::Join"][1]
    assert {part["Ref"] for part in queue_urls if isinstance(part, dict)} == {
        logical_id(queue) for queue in stack.queues.queues.values()
    }


def test_triage_reads_breakers_and_writes_its_report_to_the_memory_table(
    stack: SwitchboardStack, template: Template
) -> None:
    triage = template.to_json()["Resources"][logical_id(stack.functions.triage)]["Properties"]
    variables = triage["Environment"]["Variables"]
    assert variables["MEMORY_TABLE_NAME"] == {"Ref": logical_id(stack.state.memory_table)}
    assert set(variables) >= {"DLQ_URLS", "QUEUE_URLS", "TASKS_TABLE_NAME", "ALERT_TOPIC_ARN"}


def test_api_url_points_at_the_http_api(stack: SwitchboardStack, template: Template) -> None:
    parts = template.find_outputs("ApiUrl")["ApiUrl"]["Value"]["Fn::Join"][1]
    assert {"Ref": logical_id(stack.api.http_api)} in parts


def test_every_secret_has_an_output_with_its_arn(stack: SwitchboardStack, template: Template) -> None:
    outputs = {key: value for key, value in template.find_outputs("*").items() if key.startswith("SecretArn")}
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    tags = {
        logical: next(tag["Value"] for tag in body["Properties"]["Tags"] if tag["Key"] == SECRET_TAG)
        for logical, body in secrets.items()
    }

    assert {output["Value"]["Ref"] for output in outputs.values()} == set(secrets)
    for logical, name in tags.items():
        assert outputs[secret_output_id(name)]["Value"] == {"Ref": logical}
    assert outputs["SecretArnWebhookGithub"]["Value"] == {"Ref": logical_id(stack.secrets.webhook("github"))}
    assert outputs["SecretArnLlmAnthropic"]["Value"] == {"Ref": logical_id(stack.secrets.llm)}
