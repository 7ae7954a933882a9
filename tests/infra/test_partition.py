"""Every ARN the stack writes is in the stack's own partition (aws, aws-cn, aws-us-gov, ...)."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Template

#: `arn:aws:` followed by a service: an ARN that names the commercial partition literally. `arn:aws-cn:` and
#: `arn:aws-us-gov:` are literal too, and as wrong outside their partition.
LITERAL_PARTITION = re.compile(r"arn:aws(-[a-z-]+)?:")


def test_no_arn_names_a_partition_literally(template: Template) -> None:
    document = json.dumps(template.to_json())
    literal = sorted({match.group() + document[match.end() : match.end() + 60] for match in
                      LITERAL_PARTITION.finditer(document)})  # fmt: skip

    assert literal == [], "use ${AWS::Partition} / Stack.of(self).partition / Aws.PARTITION"


def test_the_powertools_layer_arn_uses_the_stacks_partition(template: Template) -> None:
    layers = [
        layer
        for function in template.find_resources("AWS::Lambda::Function").values()
        for layer in function["Properties"].get("Layers", [])
        if "AWSLambdaPowertoolsPython" in json.dumps(layer)
    ]

    assert layers
    assert all(
        layer["Fn::Sub"].startswith("arn:${AWS::Partition}:lambda:${AWS::Region}:") for layer in layers
    )
