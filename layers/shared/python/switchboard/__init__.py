"""Switchboard's shared library: models, platform adapters, rules, state, actions and settings.

Every Lambda function imports it from the shared layer (``/opt/python/switchboard``). Modules import their
heavy dependencies lazily: the ingest path never imports ``anthropic``.
"""
