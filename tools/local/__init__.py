"""The local runtime: runs the synthesized CloudFormation template on loopback, with no Docker and no AWS.

Entry points live in `tools.local.runtime` (`LocalRuntime`, `main`); the stand-ins it starts live in
`tools.standin` (`sink.RecordingSink`, `messages_api`).
This package must stay import-light: every function worker imports it (`python -m tools.local.worker`).
"""
