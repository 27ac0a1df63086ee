"""The web console in headless Chromium, driven over the DevTools pipe
(cdp.py), against a real `clearvault serve` that test_console.sh set up.

Argument: a JSON file from test_console.sh with the server's URL, the
users' homes (NSS databases holding their certificates), their otpauth
and TOTP step files, the case ids, record ids, the canary and the audit
log's verifier key. Writes screenshots to SHOTS and the breach scope the
page showed to T/scope-page.json; prints FAIL lines and exits 1 on any
failure.
"""
import json
import os
import subprocess
import sys
import time

from cdp import Browser, CDPTimeout, JSError

cfg = json.load(open(sys.argv[1]))
URL = cfg["url"].rstrip("/")
T, SHOTS = cfg["tmp"], cfg["shots"]
fails = []
IGNORE = r"favicon\.ico"


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, flush=True)
    return cond


USERS_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "scripts", "users.sh")


def fresh_totp(user):
    """A TOTP code of a step never used (each step is accepted once per
    user): scripts/users.sh's cv_fresh_totp, on the same step file as the
    shell side of the test."""
    k = cfg["k"] + "/" + user
    return subprocess.run(
        ["sh", "-c", '. "$1" && cv_fresh_totp "$2" "$3"', "sh", USERS_SH,
         k + ".otpauth", k + ".step"],
        check=True, capture_output=True, text=True,
        timeout=60).stdout.strip()


def shot(p, name):
    p.settle(0.2)
    p.screenshot(os.path.join(SHOTS, "console-%s.png" % name))


def no_problems(p, where):
    pr = p.problems(ignore=IGNORE)
    check(pr == [], "%s: problems in the page: %r" % (where, pr))
    check(p.csp_violations == [], "%s: CSP violations: %r" % (
        where, p.csp_violations))


def login(b, user, shot_name=None):
    p = b.new_page()
    p.set_viewport(1280, 800)
    p.goto(URL + "/")
    p.wait_for("document.activeElement && document.activeElement.id === 'totp'",
               timeout=5)
    if shot_name:
        shot(p, shot_name)
    # Keyboard only: the code typed into the focused field, Enter.
    p.eval("document.activeElement.value = %s" % json.dumps(fresh_totp(user)))
    p.press("Enter")
    p.wait_for("!document.getElementById('nav').hidden", timeout=10)
    check(user in p.text("#who"), "%s: who: %r" % (user, p.text("#who")))
    return p


def goto_hash(p, h, ready, timeout=10):
    p.eval("location.hash = %s" % json.dumps(h))
    p.wait_for(ready, timeout=timeout)


def exists(css):
    return "!!document.querySelector(%s)" % json.dumps(css)


R = cfg["records"]
CA, CB = cfg["case_a"], cfg["case_b"]
h = cfg["homes"]
t0 = time.monotonic()

with Browser(home=h["inv"]) as bi, Browser(home=h["so"]) as bs:
    # ---- the investigator: sign in, a case, search, a record -------------
    pi = login(bi, "inv", "login")
    pi.wait_for(exists("#cases-table"), timeout=10)
    check(CA in pi.text("#cases-table") and CB not in pi.text("#cases-table"),
          "my cases: %r" % pi.text("#cases-table"))
    shot(pi, "cases")
    check(pi.eval("JSON.stringify(Object.keys(window.clearvault))"
                  ".includes('token') || JSON.stringify(clearvault.me())"
                  ".includes('token')") is False, "the token is exposed")
    pi.click("#cases-table a")
    pi.wait_for(exists("#search-form"), timeout=10)
    pi.type("#s-ssn", cfg["ssn1"])
    pi.click("#search-form button[type=submit]")
    pi.wait_for(exists("#search-result a"), timeout=10)
    check(pi.text("#search-result").strip() == R[0],
          "search by SSN: %r" % pi.text("#search-result"))
    pi.click("#search-result a")
    pi.wait_for(exists("#record-sections"), timeout=10)
    secs = pi.eval("[...document.querySelectorAll('#record-sections > div')]"
                   ".map(d => d.id)")
    check("section-identity" in secs and "section-adjudication" not in secs,
          "an investigator's sections: %r" % secs)
    check(cfg["last1"] in pi.text("#section-identity"),
          "the record's name is not shown")
    shot(pi, "record")
    no_problems(pi, "investigator")

    # ---- a new record: the server's validation error at its field ---------
    goto_hash(pi, "#/cases/edit/%s" % CA, exists("#record-form"))
    fill = {"f-id": "CV-CONSOLE-1", "f-identity-name-first": "Ada",
            "f-identity-name-last": "Lovelace", "f-identity-ssn": "987-65-4320",
            "f-identity-birth-date": "1990-01-02",
            "f-identity-birth-place-city": "Richmond",
            "f-identity-birth-place-country": "X",
            "f-identity-citizenship": "United States"}
    for k, v in fill.items():
        pi.type("#" + k, v)
    pi.click("#record-save")
    err = "#f-identity-birth-place-country-error"
    pi.wait_for("document.querySelector(%s).textContent !== ''" %
                json.dumps(err), timeout=10)
    check(pi.eval("document.getElementById('f-identity-birth-place-country')"
                  ".getAttribute('aria-invalid')") == "true" and
          pi.eval("document.activeElement.id") ==
          "f-identity-birth-place-country",
          "the error is not at the field: %r" % pi.text(err))
    shot(pi, "edit")
    pi.type("#f-identity-birth-place-country", "United States")
    pi.click("#record-save")
    try:
        pi.wait_for("document.querySelector('#view h1') && document."
                    "querySelector('#view h1').textContent === "
                    "'Record CV-CONSOLE-1'", timeout=10)
    except CDPTimeout:
        check(False, "the corrected record was not created: %r" %
              pi.text("#view")[:500])

    # ---- refused outside the case ----------------------------------------
    goto_hash(pi, "#/cases/record/%s/%s" % (CB, cfg["outside"]),
              exists("#refusal"))
    check("Refused" in pi.text("#refusal") and
          "no case of yours" in pi.text("#refusal"),
          "outside the case: %r" % pi.text("#refusal"))

    # ---- the step-up limit, then a step-up in the dialog -------------------
    stopped = pi.eval("""(async () => {
      for (const [i, r] of %s.entries()) {
        try {
          await clearvault.api('GET', '/v1/records/' + r + '?purpose=%s',
            undefined, {noStepUp: true});
        } catch (e) {
          return {i, status: e.status, title: e.body.title};
        }
      }
      return null;
    })()""" % (json.dumps(R[1:]), CA), timeout=30)
    check(stopped and stopped["title"] == "step-up required",
          "no step-up required after the soft budget: %r" % stopped)
    nxt = R[1 + stopped["i"]] if stopped else R[-1]
    goto_hash(pi, "#/cases/record/%s/%s" % (CA, nxt),
              "document.getElementById('stepup-dialog').open")
    shot(pi, "stepup")
    pi.type("#stepup-totp", fresh_totp("inv"))
    pi.press("Enter")
    pi.wait_for(exists("#record-sections"), timeout=10)
    check(not pi.eval("document.getElementById('stepup-dialog').open"),
          "the dialog stayed open")
    check(pi.eval("document.querySelector('#view h1').textContent")
          == "Record " + nxt, "after the step-up: not record " + nxt)

    # ---- a security officer sees the canary's alert appear ------------------
    ps = login(bs, "so")
    ps.wait_for(exists("#alerts-card"), timeout=10)
    before = ps.eval("document.querySelectorAll('#alerts-table tbody tr')"
                     ".length")
    check(pi.eval("""clearvault.api('GET', '/v1/records/%s?purpose=%s')
                       .then(() => 'read', e => e.status)""" % (
        cfg["canary"], CA), timeout=10) == "read",
        "the canary was not returned")
    # The lock ended the session: the next call says so, and signing in
    # again shows the locked screen.
    pi.eval("location.hash = '#/cases'")
    try:
        pi.wait_for("document.activeElement && "
                    "document.activeElement.id === 'totp'", timeout=10)
    except CDPTimeout:
        check(False, "after the lock: no sign-in screen: %r (%r)" % (
            pi.text("#view")[:300], pi.text("#notice")))
        raise
    check("session has ended" in pi.text("#notice"),
          "after the lock: %r" % pi.text("#notice"))
    pi.type("#totp", fresh_totp("inv"))
    pi.press("Enter")
    pi.wait_for(exists("#locked-view"), timeout=10)
    check("two security officers" in pi.text("#locked-view").lower() or
          "Two security officers" in pi.text("#locked-view"),
          "locked screen: %r" % pi.text("#locked-view"))
    shot(pi, "locked")
    try:
        ps.wait_for("[...document.querySelectorAll('#alerts-table tr.new')]"
                    ".some(tr => tr.textContent.includes('canary') && "
                    "tr.textContent.includes('inv'))", timeout=12)
    except CDPTimeout:
        check(False, "the canary alert did not appear without a reload "
              "(rows before: %r): %r" % (before, ps.text("#alerts-card")))
    check(ps.eval("document.getElementById('alert-badge').textContent")
          not in ("", "0"), "no unseen-alert badge")
    shot(ps, "alerts")
    no_problems(ps, "officer")

    # ---- two officers unlock -------------------------------------------------------
    goto_hash(ps, "#/locks", exists("#unlock-inv"))
    ps.click("#unlock-inv")
    ps.wait_for("document.getElementById('locks-result').textContent", 10)
    check("second security officer" in ps.text("#locks-result"),
          "first approval: %r" % ps.text("#locks-result"))
    shot(ps, "locks")
    with Browser(home=h["so2"]) as b2:
        p2 = login(b2, "so2")
        goto_hash(p2, "#/locks", exists("#unlock-inv"))
        check("1 of 2" in p2.text("#locks-table"),
              "the first approval is not shown: %r" % p2.text("#locks-table"))
        p2.click("#unlock-inv")
        p2.wait_for("document.getElementById('locks-result').textContent", 10)
        check("inv is unlocked" in p2.text("#locks-result"),
              "second approval: %r" % p2.text("#locks-result"))
        no_problems(p2, "second officer")

    # ---- breach scope, reads over time, the drill ----------------------------------
    goto_hash(ps, "#/scope", exists("#scope-form"))
    ps.type("#sc-subject", "inv")
    ps.click("#scope-run")
    ps.wait_for(exists("#scope-table") + " || " + exists("#scope-result .notice"),
                timeout=30)
    rows = ps.eval("[...document.querySelectorAll('#scope-table tbody tr')]"
                   ".map(tr => [...tr.cells].map(c => c.textContent))")
    json.dump({"rows": rows, "total": ps.text("#scope-total")},
              open(T + "/scope-page.json", "w"))
    shot(ps, "scope")
    goto_hash(ps, "#/reads", exists("#reads-form"))
    ps.type("#r-user", "inv")
    ps.click("#reads-form button[type=submit]")
    ps.wait_for(exists("#reads-chart rect"), timeout=15)
    check(ps.eval("document.querySelectorAll('#reads-chart rect').length")
          == 168, "a week by the hour: not 168 bars")
    total = ps.text("#reads-total")
    check(total.startswith("inv: ") and " 0 record" not in total,
          "reads: %r" % total)
    shot(ps, "reads")
    goto_hash(ps, "#/drill", exists("#drill-table") + " || " +
              exists("#refusal"))
    check(ps.eval("document.querySelector('#drill-table') !== null"),
          "no drill report: %r" % ps.text("#view"))
    ps.wait_for("document.getElementById('drill-timeline').complete && "
                "document.getElementById('drill-timeline').naturalWidth > 0",
                timeout=10)
    shot(ps, "drill")
    # ---- a narrow window: nothing wider than the screen ---------------------------
    goto_hash(ps, "#/alerts", exists("#alerts-card"))
    ps.set_viewport(390, 800, mobile=True)
    ps.settle(0.3)
    w = ps.eval("document.documentElement.scrollWidth")
    check(w <= 392, "narrow window: the page is %d px wide" % w)
    shot(ps, "narrow")
    no_problems(ps, "officer, later")

# ---- the auditor: checkpoint, signature and a proof, in the browser ----------
with Browser(home=h["aud"]) as ba:
    pa = login(ba, "aud")
    try:
        pa.wait_for(exists("#entries-table"), timeout=15)
    except CDPTimeout:
        check(False, "auditor: no entries: %r %r" % (
            pa.text("#view")[:400], pa.problems()))
        raise
    # No proof before the checkpoint's signature is verified.
    pa.click("#entries-table tbody tr:nth-child(3) button")
    pa.wait_for(exists("#proof-status"), timeout=10)
    check("signature first" in pa.text("#proof-status"),
          "a proof against an unverified checkpoint: %r" %
          pa.text("#proof-status"))
    pa.type("#a-vkey", cfg["vkey"])
    pa.click("#verify-sig")
    pa.wait_for("document.getElementById('sig-status').className !== 'muted'",
                timeout=10)
    check(pa.text("#sig-status").startswith("Signature verified"),
          "checkpoint signature: %r" % pa.text("#sig-status"))
    pa.click("#entries-table tbody tr:nth-child(3) button")
    pa.wait_for("document.getElementById('proof-status') && !document."
                "getElementById('proof-status').textContent.includes("
                "'signature first')", timeout=10)
    check(pa.text("#proof-status").startswith("Included"),
          "inclusion proof: %r" % pa.text("#proof-status"))
    shot(pa, "audit")
    # A wrong key is refused.
    pa.type("#a-vkey", cfg["vkey"][:-6] + "AAAAA=")
    pa.click("#verify-sig")
    pa.wait_for("document.getElementById('sig-status').textContent"
                ".includes('NOT')", timeout=10)
    no_problems(pa, "auditor")

print("browser test: %.1f s" % (time.monotonic() - t0))
sys.exit(1 if fails else 0)
