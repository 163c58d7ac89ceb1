#!/usr/bin/env python3
"""The dependency rule of the README's architecture section, checked against the code: every
#include in src/<module>/ names its own module, a module or header its row lists under "uses",
or a header of the system or the standard library.

  test_layers.py README.md SRC_DIR
"""

import os
import re
import sys

# What an #include path starts with -> the name the README's table uses for it.
LIBRARIES = {"uv.h": "libuv", "curl/": "libcurl", "toml++/": "TOML++", "ldns/": "ldns",
             "fmt/": "fmt", "microhttpd.h": "libmicrohttpd", "maxminddb.h": "libmaxminddb",
             "gslb/published.hpp": "vocab", "gslb/duration.hpp": "vocab",
             "openssl/": "OpenSSL", "nlohmann/": "nlohmann-json"}


def read_table(readme):
    """[(module, set of allowed names)] in table order, from the `| folder | holds | uses |` table."""
    rows, inside = [], False
    for line in open(readme, encoding="utf-8"):
        if line.startswith("| folder | holds | uses |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        m = re.match(r"\| `src/(\w+)/` \|.*\| ([^|]+) \|\s*$", line)
        if inside and m:
            rows.append((m.group(1), m.group(2)))
    table = []
    for i, (module, uses) in enumerate(rows):
        allowed = set()
        if "everything above" in uses:
            allowed |= {name for name, _ in rows[:i]} | set(LIBRARIES.values())
        # Backticked headers ("pool/config.hpp") allow that header alone; bare words a module
        # or a library. Parentheses are commentary.
        allowed |= set(re.findall(r"`([\w/.]+)`", uses))
        words = re.sub(r"\([^)]*\)|`[^`]*`", "", uses)
        allowed |= {w.strip() for w in re.split(r"[,;:]", words) if w.strip()}
        table.append((module, allowed))
    return table


def includes(path):
    for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
        m = re.match(r'\s*#\s*include\s*[<"]([^>"]+)[>"]', line)
        if m:
            yield n, m.group(1)


def main():
    readme, src = sys.argv[1], sys.argv[2]
    table = read_table(readme)
    modules = {m for m, _ in table}
    on_disk = {d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))}
    failed = checked = 0
    for missing in sorted(on_disk - modules):
        print(f"FAIL: src/{missing}/ has no row in the README's module table")
        failed += 1
    for module, allowed in table:
        root = os.path.join(src, module)
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if not f.endswith((".cpp", ".hpp", ".h", ".c")):
                    continue
                path = os.path.join(dirpath, f)
                for line, inc in includes(path):
                    first = inc.split("/")[0]
                    if "/" in inc and first in modules:
                        what, ok = first, first == module or first in allowed or inc in allowed
                    else:
                        lib = next((v for k, v in LIBRARIES.items() if inc.startswith(k)), None)
                        if lib is None:
                            continue  # the system's or the standard library's
                        what, ok = lib, lib in allowed
                    checked += 1
                    if not ok:
                        failed += 1
                        print(f"FAIL: {os.path.relpath(path, os.path.dirname(src))}:{line}: "
                              f"includes {inc} ({what}), which src/{module}/ may not use")
    if checked == 0:
        print("FAIL: no include was checked: is the table or the source tree where expected?")
        failed += 1
    print(f"{checked - min(failed, checked)} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
