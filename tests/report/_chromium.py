"""Load a page in headless Chromium over the DevTools protocol: console, requests, screenshot.

No websocket library needed: ``--remote-debugging-pipe`` speaks JSON messages separated by NUL
bytes on file descriptors 3 (to the browser) and 4 (from it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _CDP:
    def __init__(self, binary: str, user_data_dir: Path) -> None:
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def child_fds() -> None:
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={user_data_dir}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,
            pass_fds=(3, 4),
        )
        os.close(to_r)
        os.close(from_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, timeout: float) -> dict[str, Any]:
        import select

        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_r], [], [], left)[0]:
                msg = "no answer from chromium"
                raise TimeoutError(msg)
            chunk = os.read(self._from_r, 1 << 20)
            if not chunk:
                msg = "chromium closed the pipe"
                raise RuntimeError(msg)
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    msg = f"{method}: {reply['error']}"
                    raise RuntimeError(msg)
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self._read(deadline - time.monotonic())
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_w)
        os.close(self._from_r)


def load_page(
    path: Path, *, user_data_dir: Path, width: int = 390, height: int = 844
) -> dict[str, Any]:
    """Open ``path`` (phone-sized viewport) and return what the page did.

    Returns ``console`` (error messages), ``exceptions``, ``requests`` (every URL requested
    other than the page itself), ``scroll_width``/``inner_width`` and ``screenshot`` (PNG bytes).
    """
    binary = chromium()
    if binary is None:
        msg = "chromium"
        raise FileNotFoundError(msg)
    cdp = _CDP(binary, user_data_dir)
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable", session=session)
        cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
            session=session,
        )
        url = path.resolve().as_uri()
        cdp.send("Page.navigate", {"url": url}, session=session)
        cdp.wait_for("Page.loadEventFired")
        time.sleep(0.3)  # late console messages or requests
        metrics = cdp.send(
            "Runtime.evaluate",
            {
                "expression": (
                    "JSON.stringify([document.documentElement.scrollWidth, window.innerWidth])"
                ),
                "returnByValue": True,
            },
            session=session,
        )
        scroll_width, inner_width = json.loads(metrics["result"]["value"])
        shot = cdp.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            session=session,
        )
        events = list(cdp.events)
    finally:
        cdp.close()
    console = [
        e["params"]
        for e in events
        if e.get("method") == "Runtime.consoleAPICalled"
        and e["params"].get("type") in ("error", "warning", "assert")
    ] + [
        e["params"]["entry"]
        for e in events
        if e.get("method") == "Log.entryAdded"
        and e["params"]["entry"].get("level") in ("error", "warning")
    ]
    requests = [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] != url
    ]
    return {
        "console": console,
        "exceptions": [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"],
        "requests": requests,
        "scroll_width": scroll_width,
        "inner_width": inner_width,
        "screenshot": base64.b64decode(shot["data"]),
    }
