#!/usr/bin/env python3
"""Writes a C++ file that holds the given files' text, so gslbd can start on its bundled
example with no files installed. Usage: embed.py OUT.cpp SRCDIR FILE..."""
import sys

out, srcdir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
delim = "gslbd_embedded"
with open(out, "w") as f:
    f.write('#include "daemon/builtin.hpp"\n\nnamespace gslb::daemon {\n\n')
    f.write("const BuiltinFile kBuiltinFiles[] = {\n")
    for rel in files:
        text = open(f"{srcdir}/{rel}", encoding="utf-8").read()
        if f"){delim}\"" in text:
            sys.exit(f"{rel}: contains the raw-string delimiter")
        f.write(f'  {{"{rel}", R"{delim}({text}){delim}"}},\n')
    f.write("  {nullptr, nullptr},\n};\n\n}  // namespace gslb::daemon\n")
