#!/usr/bin/env python3
"""A test's copy of a shipped template: SRC to DST with each OLD text replaced by its NEW one.
Every OLD must be there (a template that moved on fails the test, instead of testing something
else). Usage: derive_template.py SRC DST OLD NEW [OLD NEW]..."""
import sys

src, dst, *pairs = sys.argv[1:]
if len(pairs) % 2:
    sys.exit("usage: derive_template.py SRC DST OLD NEW [OLD NEW]...")
text = open(src).read()
for old, new in zip(pairs[::2], pairs[1::2]):
    if old not in text:
        sys.exit(f"{src}: not found: {old}")
    text = text.replace(old, new)
open(dst, "w").write(text)
