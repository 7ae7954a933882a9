#!/usr/bin/env python3
"""The CDK app: writes cdk.out/Switchboard.template.json. Needs no AWS credentials and no network."""

from infra.stack import build_app


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
