"""First views of cold variants: Chrome's ``Accept`` against ``Accept: image/jpeg``.

    .venv/bin/python bench/first_view.py [--rounds 15] [--pause 0.5]

One imagegate (``imagegate serve``, one worker) over a fresh store with the 12 MP bench photo,
private; each round asks for two variants no one asked for before (``w=800-i`` as JPEG,
``w=799-i`` with Chrome's ``Accept``), one request at a time, in alternating order, with a
pause after each so a background encode is over before the next timed request. Run twice:
with the AVIF fallback on (the default) and off. Prints p50 and p90 of each, and how many
Chrome views got AVIF, WebP, and how many second views (after the pause) got AVIF.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from prepare import photo
from servers import imagegate_init, signed_path, start_imagegate, upload_private

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def one_run(
    work: Path, image: Path, fallback: bool, rounds: int, pause: float
) -> dict[str, object]:
    data_dir = work / f"data-{fallback}"
    account = imagegate_init(data_dir)
    env = {"IMAGEGATE_AVIF_FALLBACK": "true" if fallback else "false"}
    server = start_imagegate(work, data_dir, workers=1, env=env, label=f"fallback-{fallback}")
    try:
        auth = {"Authorization": f"Bearer {account.api_token}"}
        with httpx.Client(base_url=server.base, timeout=120) as client:
            client.patch(
                f"/accounts/{account.account_id}/images/v1/config",
                headers=auth,
                json={"flexible_variants": True},
            ).raise_for_status()
            upload_private(server.base, account, image, "photo")
            times: dict[str, list[float]] = {"jpeg": [], "chrome": []}
            types: list[str] = []
            second_avif = 0
            for i in range(rounds):
                order = ["jpeg", "chrome"] if i % 2 == 0 else ["chrome", "jpeg"]
                for kind in order:
                    width = 800 - 2 * i - (kind == "chrome")
                    path = signed_path(account, "photo", f"w={width}")
                    accept = CHROME if kind == "chrome" else "image/jpeg"
                    start = time.perf_counter()
                    r = client.get(path, headers={"Accept": accept})
                    times[kind].append(time.perf_counter() - start)
                    r.raise_for_status()
                    time.sleep(pause)
                    if kind == "chrome":
                        types.append(r.headers["content-type"])
                        again = client.get(path, headers={"Accept": accept})
                        second_avif += again.headers["content-type"] == "image/avif"
    finally:
        server.stop()
    result: dict[str, object] = {}
    for kind, samples in times.items():
        ordered = sorted(samples)
        result[f"{kind} p50 ms"] = round(statistics.median(ordered) * 1000, 1)
        result[f"{kind} p90 ms"] = round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1)
    result["ratio p50"] = round(
        statistics.median(times["chrome"]) / statistics.median(times["jpeg"]), 2
    )
    result["first chrome views"] = {t: types.count(t) for t in sorted(set(types))}
    result["second views AVIF"] = second_avif
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--pause", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="first-view-") as tmp:
        work = Path(tmp)
        image = work / "photo.jpg"
        image.write_bytes(photo(4000, 3000).jpegsave_buffer(Q=90))
        for fallback in (True, False):
            found = one_run(work, image, fallback, args.rounds, args.pause)
            print(f"fallback {'on' if fallback else 'off'}: {found}", flush=True)


if __name__ == "__main__":
    main()
