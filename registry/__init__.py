"""Twinmark's domain package.

`py_ecc` (imported by the Ethereum libraries) raises Python's recursion limit to 100,000 when it is
imported. With that limit, parsing hostile deeply nested JSON (a request body, a content file)
overflows the C stack and kills the process instead of raising RecursionError. It is imported here
first, and the limit set back to Python's default, before any request can be parsed.
"""

import sys

import py_ecc  # noqa: F401

sys.setrecursionlimit(1000)
