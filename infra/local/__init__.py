"""The local runtime: runs the synthesized CloudFormation template on loopback, with no Docker and no AWS.

Entry points live in `infra.local.runtime` (`LocalRuntime`, `main`) and `infra.local.sink` (`RecordingSink`).
This package must stay import-light: every function worker imports it (`python -m infra.local.worker`).
"""
