"""`make bench`: measured figures for cold start, warm cost, AWS requests, LLM routing and throughput.

Not collected by `make test`. Run with `python -m tools.bench [--update-readme] [--with-pipeline]`. Nothing
here asserts on time: every figure is measured on this machine, printed, and written to `build/bench.json`.
"""
