"""Benchmarks of the template: serving, pipeline overhead, pull-request loop (`make bench`; docs/performance.md)."""
