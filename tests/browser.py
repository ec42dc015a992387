"""Drive headless Chromium over the DevTools protocol, with nothing but the standard library.

Chromium's ``--remote-debugging-pipe`` speaks the protocol over file descriptors
3 (commands in) and 4 (replies and events out), one JSON message per NUL-ended
chunk, so no websocket client, no port and no download is needed: only the
``chromium`` binary (Debian's package).

As a script it saves a screenshot of a report::

    python tests/browser.py docs/report.html --out docs/report.png [--until plots]
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio",
    "--hide-scrollbars", "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """Path of an installed Chromium (or Chrome), or None."""
    env = os.environ.get("OVERLAP_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class ProtocolError(RuntimeError):
    pass


class Browser:
    """A headless Chromium with one page attached; ``with Browser() as b: b.open(path)``."""

    def __init__(self, executable: str | None = None, width: int = 1280, height: int = 900,
                 timeout: float = 30.0):
        exe = executable or find_chromium()
        if exe is None:
            raise FileNotFoundError("no chromium found (apt-get install -y chromium)")
        self.timeout = timeout
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="overlap-chromium-")
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # move the child's ends out of the way of 3 and 4 before the child dup2s them there
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(out_w)

        def wire() -> None:  # runs in the child, before exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, pass_fds=(3, 4),
        )
        os.close(child_in)
        os.close(child_out)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(out_r, "rb", buffering=0)
        self._next = 0
        self._lock = threading.Condition()
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._closed = False
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.session: str | None = None
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ plumbing

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self._in.read(1 << 16)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._lock:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        """Send one command and wait for its reply's result."""
        with self._lock:
            self._next += 1
            ident = self._next
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self._out.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while ident not in self._replies:
                if self._closed:
                    raise ProtocolError(f"chromium exited while waiting for {method}: {self.stderr()[-2000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {method} in {self.timeout}s")
                self._lock.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, since: int = 0, timeout: float | None = None) -> dict:
        """The first event named ``method`` at or after index ``since`` of :attr:`events`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._lock:
            while True:
                for event in self.events[since:]:
                    if event.get("method") == method:
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise TimeoutError(f"no {method} event")
                self._lock.wait(left)

    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def _attach(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})

    # ------------------------------------------------------------ page

    def open(self, path: str | Path) -> None:
        """Load a local file and wait for its load event."""
        since = len(self.events)
        url = Path(path).resolve().as_uri()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", since)

    def eval(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its (JSON) value; raises on an exception."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise ProtocolError(f"JS exception: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the first element matching ``selector``."""
        box = self.eval(
            f"(function(){{var el=document.querySelector({json.dumps(selector)});"
            "if(!el) return null; el.scrollIntoView({block:'center'});"
            "var r=el.getBoundingClientRect(); return [r.left+r.width/2, r.top+r.height/2];})()")
        if box is None:
            raise ProtocolError(f"nothing matches {selector!r}")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type_text(self, selector: str, text: str) -> None:
        """Focus an input and type ``text`` into it as a user would."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def screenshot(self, out: str | Path | None = None, *, height: int | None = None, top: int = 0) -> bytes:
        """PNG of the page from ``top``, ``height`` CSS pixels tall (default: to the end of the page)."""
        if height is None:
            height = int(self.eval("Math.ceil(document.documentElement.scrollHeight)")) - top
        self.eval("window.scrollTo(0, 0)")
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": self.width, "height": height, "scale": 1},
        })
        png = base64.b64decode(shot["data"])
        if out is not None:
            Path(out).write_bytes(png)
        return png

    def image_stats(self, png: bytes) -> dict:
        """Decode ``png`` in a blank page of this browser: size, distinct colours, share of non-white pixels."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                            session=False)["sessionId"]
        mine, self.session = self.session, session
        try:
            data = base64.b64encode(png).decode()
            return self.eval(
                "new Promise(function(ok, fail){var img=new Image();"
                "img.onload=function(){var c=document.createElement('canvas');c.width=img.width;"
                "c.height=img.height;var g=c.getContext('2d');g.drawImage(img,0,0);"
                "var d=g.getImageData(0,0,c.width,c.height).data;var seen=new Set();var ink=0;var n=0;"
                "for(var i=0;i<d.length;i+=4*7){n++;var v=(d[i]<<16)|(d[i+1]<<8)|d[i+2];"
                "if(seen.size<5000)seen.add(v);if(d[i]<235||d[i+1]<235||d[i+2]<235)ink++;}"
                "ok({width:c.width,height:c.height,colours:seen.size,ink:ink/n});};"
                "img.onerror=function(){fail('cannot decode the screenshot')};"
                f"img.src='data:image/png;base64,{data}';}})")
        finally:
            self.session = mine
            self.send("Target.closeTarget", {"targetId": target}, session=False)

    # ------------------------------------------------------------ what the page did

    def requests(self) -> list[str]:
        """URL of every request the page made."""
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries of the page."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                what = details.get("exception", {}).get("description") or details.get("text")
                out.append(f"exception: {what}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append("log: " + params["entry"].get("text", ""))
        return out

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", session=False)
                except (ProtocolError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for stream in (self._out, self._in):
                try:
                    stream.close()
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Screenshot an HTML report with headless Chromium.")
    parser.add_argument("html")
    parser.add_argument("--out", required=True)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--until", help="id of the last section to include (default: the whole page)")
    parser.add_argument("--section", help="only this section (by id)")
    parser.add_argument("--height", type=int, help="at most this many CSS pixels")
    parser.add_argument("--open", type=int, default=0, help="open the evidence of the first N familiar rows")
    args = parser.parse_args(argv)
    with Browser(width=args.width) as browser:
        browser.open(args.html)
        for i in range(args.open):
            browser.eval(f"(function(){{var r=document.querySelectorAll('#t-familiar tr.main')[{i}];"
                         "if(r) r.click();})()")
        height = None
        if args.until:
            height = int(browser.eval(
                f"Math.ceil(document.getElementById({json.dumps(args.until)}).getBoundingClientRect().bottom"
                " + window.scrollY + 16)"))
        top = 0
        if args.section:
            top, bottom = browser.eval(
                f"(function(){{var r=document.getElementById({json.dumps(args.section)}).getBoundingClientRect();"
                "return [Math.floor(r.top+window.scrollY-8), Math.ceil(r.bottom+window.scrollY+8)];})()")
            height = bottom - top
        if args.height:
            height = min(height or args.height, args.height)
        browser.screenshot(args.out, height=height, top=top)
        local = ("file:", "data:", "about:")
        problems = browser.errors() + [u for u in browser.requests() if not u.startswith(local)]
        for p in problems:
            print("problem:", p)
        return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
