#!/usr/bin/env python3
"""Drives headless Chromium through chromedriver (W3C WebDriver, stdlib HTTP only) against capsnet serve:
draws a stroke on the pad, waits for the 10 capsule lengths and the reconstruction, moves one slider, loads test
image 0 (its status line must contain --expect); the screenshot is taken after the stroke and the slider move. With
--top 2 (capsnet serve --model multimnist) it also checks that two capsules are the answer and that the second digit's
reconstruction (#recon1) is drawn. Exits non-zero naming the first check that failed."""
import argparse, base64, json, sys, time, urllib.error, urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier


def call(driver, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(driver + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["value"]
    except urllib.error.HTTPError as e:
        raise SystemExit(f"webdriver {method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')[:400]}")


def wait_for(driver, session, script, ok, what, timeout=20):
    deadline, value = time.time() + timeout, None
    while time.time() < deadline:
        value = call(driver, "POST", f"/session/{session}/execute/sync", {"script": script, "args": []})
        if ok(value):
            return value
        time.sleep(0.2)
    raise SystemExit(f"browser check failed: {what} (last value {value!r})")


STATE = """const bars = document.querySelectorAll('#lengths .bar');
const c = document.getElementById('recon'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i];
const c1 = document.getElementById('recon1');
let sum1 = 0; if (c1) { const d1 = c1.getContext('2d').getImageData(0, 0, c1.width, c1.height).data; for (let i = 0; i < d1.length; i += 4) sum1 += d1[i]; }
return {idle: window.capsnetIdle(), predictions: Number(document.body.dataset.predictions || 0), bars: bars.length,
        best: document.querySelectorAll('#lengths .bar.best').length, side: Number(document.body.dataset.side || 0),
        ready1: !!c1 && c1.dataset.ready === '1', ink1: sum1,
        lengths: Array.from(bars, b => Number(b.dataset.length)), ready: c.dataset.ready === '1', ink: sum,
        sliders: document.querySelectorAll('#sliders input').length, status: document.getElementById('status').textContent};"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--driver", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--chrome", default="/usr/bin/chromium")
    p.add_argument("--profile", required=True, help="a new empty --user-data-dir")
    p.add_argument("--screenshot", required=True)
    p.add_argument("--expect", default="test image 0, label 7", help="text the status shows once test image 0 is loaded")
    p.add_argument("--top", type=int, default=1, help="capsules the answer has: 2 for --model multimnist")
    p.add_argument("--side", type=int, default=28, help="image side the page must have read from /api/model")
    a = p.parse_args()
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={a.profile}", "--window-size=1100,900"]
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": a.chrome, "args": args}}}}
    session = call(a.driver, "POST", "/session", caps)["sessionId"]
    try:
        call(a.driver, "POST", f"/session/{session}/url", {"url": a.url})
        pad = call(a.driver, "POST", f"/session/{session}/element", {"using": "css selector", "value": "#pad"})[ELEMENT]
        origin = {ELEMENT: pad}
        # A "7": across the top, then down and to the left (offsets from the pad's centre, 280x280 CSS px).
        path = [(-70, -90), (-30, -90), (10, -90), (50, -90), (75, -90), (55, -40), (35, 10), (15, 55), (0, 100)]
        moves = [{"type": "pointerMove", "duration": 0, "origin": origin, "x": path[0][0], "y": path[0][1]},
                 {"type": "pointerDown", "button": 0}]
        moves += [{"type": "pointerMove", "duration": 40, "origin": origin, "x": x, "y": y} for x, y in path[1:]]
        moves += [{"type": "pointerUp", "button": 0}]
        call(a.driver, "POST", f"/session/{session}/actions",
             {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": moves}]})
        s = wait_for(a.driver, session, STATE, lambda v: v["idle"] and v["predictions"] >= 1 and v["bars"] == 10 and v["ready"] and v["ink"] > 0,
                     "10 capsule lengths and a non-blank reconstruction after drawing")
        if not all(0 <= x < 1 for x in s["lengths"]) or s["sliders"] != 16:
            raise SystemExit(f"browser check failed: lengths in [0, 1) and 16 sliders, got {s}")
        if s["best"] != a.top or s["side"] != a.side or (a.top > 1) != (s["ready1"] and s["ink1"] > 0):
            raise SystemExit(f"browser check failed: {a.top} capsule(s) as the answer, side {a.side}, and a second reconstruction only with --top 2; got {s}")
        print(f"drawn stroke: {s['status']}; lengths {s['lengths']}")
        before = s["ink"]
        call(a.driver, "POST", f"/session/{session}/execute/sync", {"script":
             "const s = document.querySelector('#sliders input[data-dim=\"0\"]'); s.value = -0.25; s.dispatchEvent(new Event('input')); return 1;", "args": []})
        s = wait_for(a.driver, session, STATE, lambda v: v["idle"] and v["ink"] != before, "the reconstruction changes when slider d0 moves")
        print(f"slider d0 -0.25: reconstruction ink {before} -> {s['ink']}")
        png = base64.b64decode(call(a.driver, "GET", f"/session/{session}/screenshot"))
        if png[:8] != b"\x89PNG\r\n\x1a\n":
            raise SystemExit("the screenshot is not a PNG")
        with open(a.screenshot, "wb") as f:
            f.write(png)
        print(f"screenshot {a.screenshot} ({len(png)} bytes)")
        call(a.driver, "POST", f"/session/{session}/execute/sync", {"script": "document.getElementById('load').click(); return 1;", "args": []})
        s = wait_for(a.driver, session, STATE, lambda v: v["idle"] and a.expect in v["status"], f"test image 0 loads and shows '{a.expect}'")
        print(f"test image: {s['status']}")
    finally:
        call(a.driver, "DELETE", f"/session/{session}")


if __name__ == "__main__":
    sys.exit(main())
