"""A small Chrome DevTools Protocol driver for the browser tests.

Standard library only. Chromium is started with --remote-debugging-pipe:
it reads CDP messages (JSON, each ended by a NUL byte) from its fd 3 and
writes replies and events to its fd 4, so no websocket and no port. One
thread: every wait reads the pipe with select() against a deadline, and
the events that arrive meanwhile (console messages, exceptions, log
entries, CSP violations, page loads) are filed as they come.

    from cdp import Browser
    with Browser(home) as b:           # home: $HOME with .pki/nssdb
        p = b.new_page()
        status = p.goto("https://127.0.0.1:8443/")
        p.wait_for("document.querySelector('#login')")
        p.type("#totp", "123456")
        p.press("Enter")
        assert p.eval("document.title") == "clearvault"
        p.screenshot("/tmp/x.png")
        assert not p.problems(), p.problems()

Every wait is bounded (a CDPTimeout, never a hang); the browser and its
child processes are killed when the Browser is closed, when the `with`
ends, at interpreter exit (atexit, and on SIGTERM when nothing else
handles it), and if this process dies (PR_SET_PDEATHSIG). Chromium's
stderr goes to a file (Browser.stderr_path) to read when something fails.
"""

import atexit
import base64
import ctypes
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

__all__ = ["Browser", "Page", "CDPError", "CDPTimeout", "JSError",
           "NavigationError", "chromium_path"]

DEFAULT_TIMEOUT = 10.0


class CDPError(Exception):
    """The browser answered a command with an error, or went away."""


class CDPTimeout(CDPError):
    """Nothing (or not the awaited thing) came before the deadline."""


class JSError(CDPError):
    """The evaluated JavaScript threw (or its promise rejected)."""


class NavigationError(CDPError):
    """The page could not be loaded (net::ERR_..., e.g. a failed TLS
    handshake)."""


def chromium_path():
    """The browser to run: $CHROMIUM, else chromium on PATH, else None."""
    p = os.environ.get("CHROMIUM")
    if p:
        return p if os.access(p, os.X_OK) else None
    return shutil.which("chromium")


def _descendants(pid):
    """The pids of every process below PID (from /proc), deepest last."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ')'
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


_live = set()           # Browsers not yet closed, for atexit / SIGTERM


def _close_all():
    for b in list(_live):
        b.close()


atexit.register(_close_all)


def _on_sigterm(signum, frame):
    _close_all()
    raise SystemExit(128 + signum)


class Browser:
    """One headless Chromium, driven over the DevTools pipe.

    home: the $HOME the browser gets; Chromium on Linux takes its client
      certificates and trusted CAs from $home/.pki/nssdb (tests/web/nss.sh
      makes one). None: a fresh temporary one (no certificates).
    extra_args: more command-line switches.
    timeout: the default bound of every command, in seconds.
    user_data_dir: the profile; None: a fresh one under a temporary
      folder, removed at close.
    stderr_path: where Chromium's stderr goes; None: in the temporary
      folder (kept at close when keep_logs, or $CV_KEEP is set).
    """

    def __init__(self, home=None, extra_args=(), timeout=DEFAULT_TIMEOUT,
                 user_data_dir=None, stderr_path=None, window=(1280, 800),
                 chromium=None, start_timeout=30.0, keep_logs=None):
        self.timeout = timeout
        self._tmp = tempfile.mkdtemp(prefix="cvcdp.")
        self.keep_logs = (bool(os.environ.get("CV_KEEP"))
                          if keep_logs is None else keep_logs)
        self.home = home or os.path.join(self._tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        self.user_data_dir = user_data_dir or os.path.join(self._tmp,
                                                           "profile")
        self.stderr_path = stderr_path or os.path.join(self._tmp,
                                                       "chromium.err")
        exe = chromium or chromium_path()
        if not exe:
            raise CDPError("chromium not found (set $CHROMIUM, or install "
                           "Debian's chromium: scripts/deps.sh)")
        self.args = [
            exe, "--headless=new", "--no-sandbox",
            "--remote-debugging-pipe",
            "--user-data-dir=" + self.user_data_dir,
            "--window-size=%d,%d" % window,
            # Quiet and deterministic: no first-run UI, no network of its
            # own, no throttling of a page that is "in the background".
            "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-default-apps",
            "--disable-extensions", "--mute-audio",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--password-store=basic", "--use-mock-keychain",
            "--disable-gpu", "--disable-dev-shm-usage",
            "about:blank",
        ] + list(extra_args)
        env = dict(os.environ, HOME=self.home)
        # No display: headless needs none, and a stray one must not be used.
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)

        to_browser_r, self._wfd = os.pipe()     # its fd 3: it reads
        self._rfd, from_browser_w = os.pipe()   # its fd 4: it writes

        def child():
            # Move the two ends to fds 3 and 4 without one clobbering the
            # other (either may already be 3 or 4), then die with us.
            import fcntl
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
            except Exception:
                pass

        self._err = open(self.stderr_path, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.args, env=env, stdin=subprocess.DEVNULL,
            stdout=self._err, stderr=self._err, preexec_fn=child,
            pass_fds=(3, 4), close_fds=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        os.set_blocking(self._wfd, False)
        os.set_blocking(self._rfd, False)
        _live.add(self)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)

        self._buf = b""
        self._next_id = 0
        self._replies = {}
        self._pages = {}        # sessionId -> Page
        self._closed = False
        self.events = []        # browser-level events (no session), raw
        try:
            v = self.send("Browser.getVersion", timeout=start_timeout)
        except Exception:
            self.close()
            raise
        self.version = v.get("product", "")
        self.startup_seconds = time.monotonic() - self.t0

    # ---- the pipe ---------------------------------------------------------

    def _write(self, data, deadline):
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPTimeout("the browser does not read its pipe")
            _, w, _ = select.select([], [self._wfd], [], left)
            if not w:
                continue
            try:
                n = os.write(self._wfd, data)
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise CDPError(self._gone("the browser closed its pipe"))
            data = data[n:]

    def _gone(self, what):
        rc = self.proc.poll()
        tail = ""
        try:
            self._err.flush()
            with open(self.stderr_path, "rb") as f:
                # without the noise of a machine with no D-Bus
                tail = "".join(l for l in f.read().decode(
                    "utf-8", "replace").splitlines(True)
                    if ":ERROR:dbus/" not in l)[-1500:]
        except OSError:
            pass
        return "%s (exit status %s); the end of its stderr (%s):\n%s" % (
            what, rc, self.stderr_path, tail)

    def _pump(self, deadline):
        """Reads and files the messages there are, waiting until one
        comes or DEADLINE passes (False then)."""
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([self._rfd], [], [], left)
        if not r:
            return False
        try:
            chunk = os.read(self._rfd, 1 << 20)
        except BlockingIOError:
            return False
        if not chunk:
            raise CDPError(self._gone("the browser went away"))
        self._buf += chunk
        while b"\0" in self._buf:
            raw, self._buf = self._buf.split(b"\0", 1)
            self._dispatch(json.loads(raw))
        return True

    def _dispatch(self, m):
        if "id" in m:
            self._replies[m["id"]] = m
            return
        page = self._pages.get(m.get("sessionId"))
        if page is not None:
            page._event(m["method"], m.get("params", {}))
        else:
            self.events.append(m)
            if m.get("method") == "Target.detachedFromTarget":
                p = self._pages.pop(m["params"].get("sessionId"), None)
                if p is not None:
                    p.closed = True

    def send(self, method, params=None, session=None, timeout=None):
        """Sends one command, returns its result; raises CDPError on an
        error reply, CDPTimeout when none came within TIMEOUT seconds."""
        if self._closed:
            raise CDPError("browser closed")
        self._next_id += 1
        mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        deadline = time.monotonic() + (timeout or self.timeout)
        self._write(json.dumps(msg).encode() + b"\0", deadline)
        while mid not in self._replies:
            if time.monotonic() >= deadline:
                raise CDPTimeout("%s: no reply in %.1f s" % (
                    method, timeout or self.timeout))
            self._pump(deadline)
        m = self._replies.pop(mid)
        if "error" in m:
            e = m["error"]
            raise CDPError("%s: %s%s" % (method, e.get("message"),
                           (" (%s)" % e["data"]) if e.get("data") else ""))
        return m.get("result", {})

    def wait_until(self, cond, timeout=None, what="condition"):
        """Reads events until cond() is true; CDPTimeout after TIMEOUT."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not cond():
            if time.monotonic() >= deadline:
                raise CDPTimeout("%s: not within %.1f s" % (
                    what, timeout or self.timeout))
            self._pump(deadline)

    def idle(self, seconds):
        """Files the events that come in the next SECONDS."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump(deadline)

    # ---- pages ------------------------------------------------------------

    def new_page(self, url="about:blank", timeout=None):
        """A new tab, attached (flat session), its events enabled."""
        t = self.send("Target.createTarget", {"url": "about:blank"},
                      timeout=timeout)
        s = self.send("Target.attachToTarget",
                      {"targetId": t["targetId"], "flatten": True},
                      timeout=timeout)
        page = Page(self, t["targetId"], s["sessionId"])
        self._pages[page.session] = page
        page._setup(timeout)
        if url != "about:blank":
            page.goto(url, timeout=timeout)
        return page

    def close(self):
        """Closes the browser (politely, then SIGKILL to it and to every
        process it started); idempotent."""
        if self._closed:
            return
        _live.discard(self)
        kids = []
        if self.proc.poll() is None:
            try:
                kids = _descendants(self.proc.pid)
            except Exception:
                pass
            try:
                self.send("Browser.close", timeout=3)
            except Exception:
                pass
            self._closed = True
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        for pid in [self.proc.pid] + kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._wfd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._err.close()
        if self.keep_logs:
            return
        if self.stderr_path.startswith(self._tmp + os.sep):
            # the profile may still be written by a dying child: best effort
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# Keys for press(): key, code, windowsVirtualKeyCode, text (if it types one)
_KEYS = {
    "Enter": ("Enter", "Enter", 13, "\r"),
    "Tab": ("Tab", "Tab", 9, None),
    "Escape": ("Escape", "Escape", 27, None),
    "Backspace": ("Backspace", "Backspace", 8, None),
    "Delete": ("Delete", "Delete", 46, None),
    "Space": (" ", "Space", 32, " "),
    "ArrowUp": ("ArrowUp", "ArrowUp", 38, None),
    "ArrowDown": ("ArrowDown", "ArrowDown", 40, None),
    "ArrowLeft": ("ArrowLeft", "ArrowLeft", 37, None),
    "ArrowRight": ("ArrowRight", "ArrowRight", 39, None),
    "Home": ("Home", "Home", 36, None),
    "End": ("End", "End", 35, None),
    "PageUp": ("PageUp", "PageUp", 33, None),
    "PageDown": ("PageDown", "PageDown", 34, None),
}
_MODS = {"Alt": 1, "Control": 2, "Meta": 4, "Shift": 8}

# Installed in every document before its own scripts: reports each CSP
# violation (the DOM's securitypolicyviolation event) through a binding.
_CSP_BINDING = "__cvCdpCsp"
_CSP_SCRIPT = """(() => {
  const send = globalThis.%s;
  if (typeof send !== "function") return;
  document.addEventListener("securitypolicyviolation", e => {
    try {
      send(JSON.stringify({directive: e.effectiveDirective,
        violated: e.violatedDirective, blocked: e.blockedURI,
        source: e.sourceFile, line: e.lineNumber, sample: e.sample,
        disposition: e.disposition, document: e.documentURI}));
    } catch (x) {}
  }, true);
})();""" % _CSP_BINDING


def _remote_text(o):
    """A Runtime.RemoteObject as the console would print it."""
    if "value" in o:
        v = o["value"]
        return v if isinstance(v, str) else json.dumps(v)
    return o.get("description") or o.get("unserializableValue") or \
        o.get("type", "")


class Page:
    """One tab. Everything it logs is kept here, for the test to assert on:

    console: [{"type": "log"|"error"|..., "text", "url", "line"}]
    exceptions: [{"text", "url", "line"}] (uncaught, and rejected promises)
    log: [{"source", "level", "text", "url"}] (Log.entryAdded: the
      browser's own messages, network errors, CSP and mixed-content
      reports among them)
    csp_violations: [{"directive", "violated", "blocked", "source", "line",
      "sample", "disposition", "document"}]
    responses: [{"url", "status", "mimeType", "type"}] (every response)
    failed_requests: [{"url", "error", "type"}] (net::ERR_..., blocked)
    dialogs: [{"type", "message"}] (alert/confirm/prompt: accepted)
    """

    def __init__(self, browser, target_id, session):
        self.browser = browser
        self.target_id = target_id
        self.session = session
        self.closed = False
        self.console = []
        self.exceptions = []
        self.log = []
        self.csp_violations = []
        self.responses = []
        self.failed_requests = []
        self.dialogs = []
        self._lifecycle = []    # (frameId, loaderId, name)
        self._requests = {}     # requestId -> url, type
        self.main_frame = None

    def send(self, method, params=None, timeout=None):
        if self.closed:
            raise CDPError("page closed")
        return self.browser.send(method, params, session=self.session,
                                 timeout=timeout)

    def _setup(self, timeout):
        tree = self.send("Page.getFrameTree", timeout=timeout)
        self.main_frame = tree["frameTree"]["frame"]["id"]
        for m in ("Page.enable", "Runtime.enable", "Log.enable",
                  "Network.enable"):
            self.send(m, timeout=timeout)
        self.send("Page.setLifecycleEventsEnabled", {"enabled": True},
                  timeout=timeout)
        self.send("Runtime.addBinding", {"name": _CSP_BINDING},
                  timeout=timeout)
        self.send("Page.addScriptToEvaluateOnNewDocument",
                  {"source": _CSP_SCRIPT}, timeout=timeout)

    def _event(self, method, p):
        if method == "Runtime.consoleAPICalled":
            top = (p.get("stackTrace") or {}).get("callFrames") or [{}]
            self.console.append({
                "type": p.get("type"),
                "text": " ".join(_remote_text(a) for a in p.get("args", [])),
                "url": top[0].get("url"), "line": top[0].get("lineNumber")})
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            exc = d.get("exception") or {}
            self.exceptions.append({
                "text": exc.get("description") or d.get("text", ""),
                "url": d.get("url"), "line": d.get("lineNumber")})
        elif method == "Runtime.bindingCalled":
            if p.get("name") == _CSP_BINDING:
                try:
                    self.csp_violations.append(json.loads(p["payload"]))
                except ValueError:
                    pass
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            self.log.append({"source": e.get("source"),
                             "level": e.get("level"),
                             "text": e.get("text"), "url": e.get("url")})
        elif method == "Page.lifecycleEvent":
            self._lifecycle.append((p.get("frameId"), p.get("loaderId"),
                                    p.get("name")))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append({"type": p.get("type"),
                                 "message": p.get("message")})
            # Answered at once: a dialog left open blocks the page's JS.
            try:
                self.browser._write(json.dumps({
                    "id": 0, "sessionId": self.session,
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": True}}).encode() + b"\0",
                    time.monotonic() + 2)
            except CDPError:
                pass
        elif method == "Network.requestWillBeSent":
            self._requests[p.get("requestId")] = (
                p.get("request", {}).get("url"), p.get("type"))
        elif method == "Network.responseReceived":
            r = p.get("response", {})
            self.responses.append({"url": r.get("url"),
                                   "status": r.get("status"),
                                   "mimeType": r.get("mimeType"),
                                   "type": p.get("type"),
                                   "loaderId": p.get("loaderId")})
        elif method == "Network.loadingFailed":
            url, typ = self._requests.get(p.get("requestId"), (None, None))
            self.failed_requests.append({
                "url": url, "type": p.get("type") or typ,
                "error": p.get("errorText"),
                "blocked": p.get("blockedReason")})
        elif method == "Inspector.detached" or \
                method == "Inspector.targetCrashed":
            self.exceptions.append({"text": method, "url": None,
                                    "line": None})

    # ---- navigation -------------------------------------------------------

    def goto(self, url, timeout=None, wait="load"):
        """Loads URL and waits for its load event (wait="load") or its
        DOMContentLoaded ("DOMContentLoaded"). Returns the HTTP status of
        the document (200 for a data: URL; None when no response was
        seen).
        Raises NavigationError when it cannot be loaded at all (e.g.
        net::ERR_BAD_SSL_CLIENT_AUTH_CERT, net::ERR_CONNECTION_REFUSED)."""
        timeout = timeout or self.browser.timeout
        r = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if r.get("errorText"):
            raise NavigationError("%s: %s" % (url, r["errorText"]))
        loader = r.get("loaderId")
        if loader is None:          # same document (a #fragment)
            return None
        frame = r.get("frameId", self.main_frame)
        self.browser.wait_until(
            lambda: (frame, loader, wait) in self._lifecycle, timeout,
            "%s of %s" % (wait, url))
        # Reports queued while the document loaded (CSP violations are
        # dispatched as tasks of their own, after the load event) come in
        # before goto returns: a round trip through two turns of the
        # page's task queue. Later ones: settle().
        try:
            self.eval("new Promise(r => setTimeout(() => setTimeout(r, 0), "
                      "0))", timeout=timeout)
        except JSError:
            pass
        for resp in reversed(self.responses):
            if resp.get("loaderId") == loader and resp["type"] == "Document":
                return resp["status"]
        return None

    def settle(self, seconds=0.1):
        """Lets the page run for SECONDS, filing what it reports (an
        error thrown from a timer, a CSP violation after a click)."""
        self.browser.idle(seconds)

    def reload(self, timeout=None):
        return self.goto(self.eval("location.href"), timeout=timeout)

    # ---- JavaScript -------------------------------------------------------

    def eval(self, js, timeout=None):
        """The value of expression JS in the page (a promise awaited),
        as JSON gives it (returnByValue). Raises JSError with the
        exception's message when it throws or its promise rejects."""
        timeout = timeout or self.browser.timeout
        r = self.send("Runtime.evaluate", {
            "expression": js, "awaitPromise": True, "returnByValue": True,
            "userGesture": True, "replMode": False,
            "timeout": int(timeout * 1000)}, timeout=timeout + 1)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            exc = d.get("exception") or {}
            msg = exc.get("description") or exc.get("value") or \
                d.get("text", "exception")
            raise JSError("%s\n  in: %s" % (msg, js[:200]))
        res = r.get("result", {})
        if "unserializableValue" in res:
            return res["unserializableValue"]
        return res.get("value")

    def wait_for(self, js, timeout=None, interval=0.05):
        """Evaluates JS until it is truthy; returns that value. Raises
        CDPTimeout after TIMEOUT seconds (its last value or exception in
        the message). An exception counts as not yet (the page may be
        loading)."""
        timeout = timeout or self.browser.timeout
        deadline = time.monotonic() + timeout
        last = None
        while True:
            left = deadline - time.monotonic()
            try:
                v = self.eval(js, timeout=max(0.5, min(left, 5)))
                if v:
                    return v
                last = "value %r" % (v,)
            except (JSError, CDPTimeout) as e:
                last = str(e)
            if time.monotonic() >= deadline:
                raise CDPTimeout("wait_for(%s): not true within %.1f s; "
                                 "last: %s" % (js[:200], timeout, last))
            self.browser.idle(min(interval, max(0, deadline -
                                                time.monotonic())))

    # ---- input ------------------------------------------------------------

    def _box(self, css, timeout):
        """The centre of the element CSS, scrolled into view; waits (up
        to TIMEOUT) for it to exist and to have a size."""
        q = json.dumps(css)
        return self.wait_for("""(() => {
            const e = document.querySelector(%s);
            if (!e) return null;
            e.scrollIntoView({block: "center", inline: "center"});
            const r = e.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) return null;
            return {x: r.left + r.width / 2, y: r.top + r.height / 2};
        })()""" % q, timeout=timeout)

    def click(self, css, timeout=None):
        """A real mouse click (pressed, released) at the centre of the
        first element matching CSS: what is on top there gets it, as for
        a user. Waits for the element to be there and visible."""
        b = self._box(css, timeout)
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            ev = {"type": t, "x": b["x"], "y": b["y"]}
            if t != "mouseMoved":
                ev.update(button="left", clickCount=1)
            self.send("Input.dispatchMouseEvent", ev, timeout=timeout)

    def focus(self, css, timeout=None):
        q = json.dumps(css)
        self.wait_for("""(() => {
            const e = document.querySelector(%s);
            if (!e) return false;
            e.focus();
            return document.activeElement === e;
        })()""" % q, timeout=timeout)

    def type(self, css, text, timeout=None, clear=True):
        """Focuses the element CSS (clearing it first when CLEAR) and
        types TEXT into it as a keyboard would (Input.insertText: input
        events fire)."""
        self.focus(css, timeout)
        if clear:
            self.eval("""(() => { const e = document.activeElement;
                if ("value" in e) { e.value = "";
                  e.dispatchEvent(new Event("input", {bubbles: true})); }
                })()""", timeout=timeout)
        if text:
            self.send("Input.insertText", {"text": text}, timeout=timeout)

    def press(self, key, modifiers=(), timeout=None):
        """Presses and releases KEY ("Enter", "Tab", "Escape", "ArrowDown",
        ..., or one character) in the focused element; MODIFIERS: some of
        "Shift", "Control", "Alt", "Meta" (press("Tab", ["Shift"]))."""
        mods = 0
        for m in modifiers:
            mods |= _MODS[m]
        if key in _KEYS:
            k, code, vk, text = _KEYS[key]
        elif len(key) == 1:
            k, text = key, key
            code = ("Key" + key.upper()) if key.isalpha() else \
                ("Digit" + key) if key.isdigit() else ""
            vk = ord(key.upper())
        else:
            raise ValueError("press: unknown key %r" % key)
        down = {"type": "keyDown" if text else "rawKeyDown", "key": k,
                "code": code, "windowsVirtualKeyCode": vk,
                "nativeVirtualKeyCode": vk, "modifiers": mods}
        if text and not mods & 7:
            down.update(text=text, unmodifiedText=text)
        self.send("Input.dispatchKeyEvent", down, timeout=timeout)
        self.send("Input.dispatchKeyEvent", {
            "type": "keyUp", "key": k, "code": code,
            "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
            "modifiers": mods}, timeout=timeout)

    # ---- the view ---------------------------------------------------------

    def set_viewport(self, width, height, scale=1, mobile=False,
                     timeout=None):
        """Emulates a WIDTHxHEIGHT viewport (CSS pixels) at device pixel
        ratio SCALE; MOBILE also sets a mobile viewport (meta viewport
        honoured, overlay scrollbars)."""
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale,
            "mobile": mobile}, timeout=timeout)

    def screenshot(self, path=None, full_page=False, timeout=None):
        """A PNG of the viewport (FULL_PAGE: of the whole document);
        written to PATH when given; returns its bytes."""
        p = {"format": "png"}
        if full_page:
            p["captureBeyondViewport"] = True
            m = self.send("Page.getLayoutMetrics", timeout=timeout)
            c = m.get("cssContentSize") or m["contentSize"]
            p["clip"] = {"x": 0, "y": 0, "width": c["width"],
                         "height": c["height"], "scale": 1}
        r = self.send("Page.captureScreenshot", p,
                      timeout=timeout or max(self.browser.timeout, 20))
        data = base64.b64decode(r["data"])
        if path:
            with open(path, "wb") as f:
                f.write(data)
        return data

    def text(self, css="body", timeout=None):
        """The innerText of the element CSS (waited for)."""
        q = json.dumps(css)
        return self.wait_for("""(() => { const e = document.querySelector(%s);
            return e ? [e.innerText] : null; })()""" % q, timeout=timeout)[0]

    # ---- what went wrong --------------------------------------------------

    def problems(self, ignore=None):
        """Everything a clean page would not have: uncaught exceptions,
        console.error/assert, error-level log entries (an HTTP error
        status of any resource is one), CSP violations and failed
        requests, as lines of text (an empty list: none). IGNORE: a
        regular expression; the lines it matches (re.search) are left
        out, e.g. r"favicon\.ico"."""
        out = ["exception: %s (%s:%s)" % (e["text"], e["url"], e["line"])
               for e in self.exceptions]
        out += ["console.%s: %s" % (c["type"], c["text"])
                for c in self.console if c["type"] in ("error", "assert")]
        # (the log's CSP reports are the csp_violations below, in full)
        out += ["log %s/%s: %s %s" % (e["source"], e["level"], e["text"],
                                      (e["url"] or "")[:120])
                for e in self.log if e["level"] == "error" and not (
                    e["source"] == "security" and
                    "Content Security Policy" in (e["text"] or ""))]
        out += ["CSP: %s blocked %s (%s:%s)" % (v["violated"], v["blocked"],
                                                v["source"], v["line"])
                for v in self.csp_violations]
        out += ["request failed: %s %s" % (f["url"], f["error"])
                for f in self.failed_requests]
        if ignore:
            out = [o for o in out if not re.search(ignore, o)]
        return out

    def clear_logs(self):
        for l in (self.console, self.exceptions, self.log,
                  self.csp_violations, self.responses, self.failed_requests,
                  self.dialogs):
            del l[:]

    def close(self, timeout=None):
        if self.closed:
            return
        try:
            self.browser.send("Target.closeTarget",
                              {"targetId": self.target_id}, timeout=timeout)
        finally:
            self.closed = True
            self.browser._pages.pop(self.session, None)
