#!/usr/bin/env python3
"""Runs route_http_client against two local HTTP servers, kills the one in the client's zone
halfway, and checks that the client failed over in-process: every request still succeeded, the
failed attempts were retried on the other server, and later requests went there directly."""
import os
import re
import signal
import subprocess
import sys
import tempfile

client_bin = sys.argv[1]
REQUESTS = 14
KILL_AFTER = 4


def start_server(root):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"port (\d+)", line)
    if not m:
        proc.kill()
        sys.exit(f"http.server did not report its port: {line!r}")
    return proc, int(m.group(1))


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def main():
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("ok\n")
        local, local_port = start_server(root)
        remote, remote_port = start_server(root)
        local_ep, remote_ep = f"127.0.0.1:{local_port}", f"127.0.0.1:{remote_port}"
        try:
            client = subprocess.Popen(
                [client_bin, "--client", "local/zone-a",
                 "--endpoint", f"{local_ep}@local/zone-a", "--endpoint", f"{remote_ep}@local/zone-b",
                 "--requests", str(REQUESTS), "--interval-ms", "150"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            attempts = []  # (request, attempt, endpoint, result)
            killed_after = None
            for line in client.stdout:
                print(line, end="")
                m = re.match(r"request (\d+) attempt (\d+) endpoint (\S+) locality \S+ result (\S+)", line)
                if not m:
                    continue
                attempts.append((int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)))
                if killed_after is None and int(m.group(1)) == KILL_AFTER:
                    stop(local)
                    killed_after = KILL_AFTER
            rc = client.wait(timeout=30)
            sys.stderr.write(client.stderr.read())
        finally:
            stop(local)
            stop(remote)

    problems = []
    if rc != 0:
        problems.append(f"client exited with {rc}")
    final = {}
    for req, att, ep, result in attempts:
        final[req] = (ep, result)
    if sorted(final) != list(range(1, REQUESTS + 1)):
        problems.append(f"requests seen: {sorted(final)}")
    for req, (ep, result) in final.items():
        if result != "200":
            problems.append(f"request {req} ended with {result}")
    before = [a for a in attempts if a[0] <= KILL_AFTER]
    if any(a[2] != local_ep for a in before):
        problems.append("before the kill, traffic left the local zone")
    failovers = [a for a in attempts if a[0] > KILL_AFTER and a[1] > 1 and a[2] == remote_ep and a[3] == "200"]
    if not failovers:
        problems.append("no request was retried on the remote server after the kill")
    tail = [a for a in attempts if a[0] > REQUESTS - 5]
    if any(a[2] != remote_ep or a[1] != 1 for a in tail):
        problems.append("the last requests did not go straight to the remote server (no ejection?)")
    if problems:
        print("FAIL:\n  " + "\n  ".join(problems))
        return 1
    print(f"ok: {len(failovers)} request(s) failed over in-process, the last 5 went straight to {remote_ep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
