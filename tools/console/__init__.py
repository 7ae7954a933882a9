"""The operator's console: a small web page on 127.0.0.1 over the same operations as the CLI.

``switchboard console [--stack NAME]`` serves it (a deployed stack: its outputs, with the operator's AWS
credentials; nothing is deployed for it); ``make local`` serves it beside the local runtime and prints its
URL.
Server-rendered HTML with htmx (from the npm package ``htmx.org``, served from ``node_modules``); every read
and write goes through ``switchboard.operations`` and the CLI's helpers (``tools.cli``), so the console can
do nothing the CLI cannot.
"""
