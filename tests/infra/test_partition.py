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


def test_the_powertools_layer_arn_is_the_deploying_regions_own(template: Template) -> None:
    """The public layer's ARN is not written into the template at all: CloudFormation resolves Powertools'
    public SSM parameter in the region (and so the partition) it deploys to."""
    layers = [
        layer
        for function in template.find_resources("AWS::Lambda::Function").values()
        for layer in function["Properties"].get("Layers", [])
        if isinstance(layer, str)
    ]

    assert layers
    assert all(
        layer.startswith("{{resolve:ssm:/aws/service/powertools/python/") and "arn:" not in layer
        for layer in layers
    )
