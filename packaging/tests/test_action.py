#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_action.py - the GitHub Action (action.yml) and the workflows, tested
without GitHub:

  1. structure (python3-yaml): action.yml is a composite action whose every
     run step calls an executable scripts/action/*.sh, every ${{ inputs.X }}
     is declared and every input used, every ${{ steps.ID... }} names an
     earlier step; each workflow under .github/workflows/ and docs/examples/
     has triggers and jobs with runs-on and steps, pins every `uses:` to a
     ref, and a job with a matrix and a concurrency group keys the group on
     every matrix variable (else one matrix job cancels its siblings);
  2. behaviour: a small composite-action runner executes action.yml the way
     the GitHub runner does (bash -eo pipefail per step, GITHUB_OUTPUT /
     GITHUB_PATH / GITHUB_STEP_SUMMARY files, `if: always()`, step outputs)
     against the reference peer: a conformant IUT passes, a broken one fails
     the job after the reports are uploaded, NON-STRICT fails only with
     strict: true, an IUT that dies at start fails the start step, the .deb
     and PATH installs work.

usage: test_action.py [--structure-only]    exit 0 pass, 1 fail, 77 no yaml module
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("test_action.py: python3-yaml is not installed: skipped")
    sys.exit(77)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_TIMEOUT = 300  # seconds, per step
failures = []


def check(ok, what):
    print("%s - %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)
    return ok


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# ---- 1. structure -----------------------------------------------------------------
def exprs(node):
    """Every ${{ ... }} expression in a YAML tree."""
    if isinstance(node, str):
        return EXPR.findall(node)
    if isinstance(node, dict):
        return [e for v in node.values() for e in exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in exprs(v)]
    return []


def check_action(path):
    a = load(path)
    check(isinstance(a, dict) and a.get("name") and a.get("description"), "action.yml: name and description")
    runs = a.get("runs", {})
    check(runs.get("using") == "composite", "action.yml: a composite action")
    inputs = a.get("inputs", {}) or {}
    steps = runs.get("steps", []) or []
    seen_ids = []
    for i, st in enumerate(steps):
        label = "action.yml step %d (%s)" % (i + 1, st.get("name", "?"))
        check(("run" in st) != ("uses" in st), label + ": exactly one of run/uses")
        if "run" in st:
            check(st.get("shell") == "bash", label + ": shell bash")
            m = re.fullmatch(r"""\s*['"]?\$GITHUB_ACTION_PATH/(scripts/action/[\w-]+\.sh)['"]?\s*""", st["run"])
            if check(m is not None, label + ": runs one scripts/action/*.sh and nothing else"):
                script = os.path.join(ROOT, m.group(1))
                check(os.path.isfile(script) and os.access(script, os.X_OK), label + ": %s is executable" % m.group(1))
        else:
            check(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", st["uses"]) is not None, label + ": uses pinned to a major version")
        for e in exprs(st):
            m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.[\w-]+", e)
            if m:
                check(m.group(1) in seen_ids, label + ": ${{ %s }} names an earlier step" % e)
        if st.get("id"):
            seen_ids.append(st["id"])
    used = set()
    for e in exprs(a):
        m = re.fullmatch(r"inputs\.([\w-]+)", e)
        if m:
            used.add(m.group(1))
            check(m.group(1) in inputs, "action.yml: input %s is declared" % m.group(1))
    for name, spec in inputs.items():
        check(name in used, "action.yml: input %s is used" % name)
        check(bool(spec.get("description")), "action.yml: input %s is described" % name)
        check(spec.get("required") or "default" in spec, "action.yml: input %s is required or has a default" % name)
    for name, spec in (a.get("outputs") or {}).items():
        check("value" in spec, "action.yml: output %s has a value" % name)
    return a


def check_workflow(path):
    rel = os.path.relpath(path, ROOT)
    w = load(path)
    if not check(isinstance(w, dict), rel + ": a mapping"):
        return
    on = w.get("on", w.get(True))  # YAML 1.1 reads the key `on` as true
    check(bool(on), rel + ": has triggers (on:)")
    check(bool(w.get("name")), rel + ": has a name")
    jobs = w.get("jobs") or {}
    check(bool(jobs), rel + ": has jobs")
    for jname, job in jobs.items():
        jl = "%s job %s" % (rel, jname)
        check("runs-on" in job, jl + ": runs-on")
        steps = job.get("steps") or []
        check(bool(steps), jl + ": has steps")
        for st in steps:
            check(("run" in st) != ("uses" in st), jl + ": step %r: exactly one of run/uses" % st.get("name"))
            if "uses" in st and not st["uses"].startswith("./"):
                check("@" in st["uses"], jl + ": %s pinned to a ref" % st["uses"])
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        conc = job.get("concurrency")
        if matrix and conc:
            group = conc["group"] if isinstance(conc, dict) else conc
            for key in matrix:
                if key in ("include", "exclude"):
                    continue
                check("matrix.%s" % key in group,
                      jl + ": concurrency group keyed on matrix.%s (else the matrix jobs cancel each other)" % key)


# ---- 2. behaviour: a local composite-action runner -------------------------------------
class Runner:
    """Runs action.yml as the GitHub runner runs a composite action."""

    def __init__(self, action, tmp):
        self.action = action
        self.tmp = tmp

    def evaluate(self, expr, ctx):
        m = re.fullmatch(r"inputs\.([\w-]+)", expr)
        if m:
            return ctx["inputs"][m.group(1)]
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if m:
            return ctx["steps"].get(m.group(1), {}).get(m.group(2), "")
        if expr == "github.action_path":
            return ROOT
        if expr == "runner.temp":
            return ctx["runner_temp"]
        raise ValueError("expression not understood by the local runner: " + expr)

    def subst(self, node, ctx):
        if isinstance(node, str):
            return EXPR.sub(lambda m: str(self.evaluate(m.group(1), ctx)), node)
        if isinstance(node, dict):
            return {k: self.subst(v, ctx) for k, v in node.items()}
        return node

    def run(self, with_inputs, runner_temp, extra_path=()):
        spec = self.action["inputs"]
        unknown = set(with_inputs) - set(spec)
        if unknown:
            raise ValueError("unknown inputs %s" % unknown)
        inputs = {k: str(with_inputs.get(k, v.get("default", ""))) for k, v in spec.items()}
        ctx = {"inputs": inputs, "steps": {}, "runner_temp": runner_temp}
        path = list(extra_path) + os.environ.get("PATH", "").split(os.pathsep)
        summary = os.path.join(runner_temp, "step-summary.md")
        open(summary, "w").close()
        failed = False
        log = []  # (step name, "success" | "failure" | "skipped", output)
        uploads = []
        for i, st in enumerate(self.action["runs"]["steps"]):
            name = st.get("name", "step %d" % i)
            cond = str(st.get("if", "success()")).strip()
            cond = EXPR.sub(lambda m: m.group(1), cond)
            if cond not in ("always()", "success()", "failure()"):
                raise ValueError("condition not understood: " + cond)
            if (cond == "success()" and failed) or (cond == "failure()" and not failed):
                log.append((name, "skipped", ""))
                continue
            if "uses" in st:
                if not st["uses"].startswith("actions/upload-artifact@"):
                    raise ValueError("the local runner has no " + st["uses"])
                w = self.subst(st.get("with", {}), ctx)
                files = [p for p in glob.glob(os.path.join(w["path"], "**"), recursive=True) if os.path.isfile(p)]
                uploads.append((w["name"], w["path"], sorted(os.path.relpath(p, w["path"]) for p in files)))
                log.append((name, "success", "uploaded %d files" % len(files)))
                continue
            env = dict(os.environ)
            env.update({k: str(v) for k, v in self.subst(st.get("env", {}), ctx).items()})
            out_file = os.path.join(runner_temp, "output-%d" % i)
            path_file = os.path.join(runner_temp, "path-%d" % i)
            open(out_file, "w").close()
            open(path_file, "w").close()
            env.update({"GITHUB_OUTPUT": out_file, "GITHUB_PATH": path_file, "GITHUB_STEP_SUMMARY": summary,
                        "GITHUB_ACTION_PATH": ROOT, "RUNNER_TEMP": runner_temp, "PATH": os.pathsep.join(path),
                        "GITHUB_ACTIONS": "true"})
            script = os.path.join(runner_temp, "step-%d.sh" % i)
            with open(script, "w") as f:
                f.write(self.subst(st["run"], ctx))
            try:
                p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], env=env,
                                   cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=STEP_TIMEOUT, text=True, errors="replace")
                rc, out = p.returncode, p.stdout
            except subprocess.TimeoutExpired as e:
                rc, out = 124, (e.stdout or b"").decode(errors="replace") + "\n(step timed out)"
            outputs = {}
            for line in open(out_file).read().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    outputs[k] = v
            if st.get("id"):
                ctx["steps"][st["id"]] = outputs
            path = [l for l in open(path_file).read().splitlines() if l] + path
            log.append((name, "success" if rc == 0 else "failure", out))
            if rc != 0:
                failed = True
        outs = {k: self.subst(v["value"], ctx) for k, v in (self.action.get("outputs") or {}).items()}
        return {"ok": not failed, "log": log, "outputs": outs, "uploads": uploads,
                "summary": open(summary).read()}


def status(res, step_prefix):
    for name, st, _ in res["log"]:
        if name.startswith(step_prefix):
            return st
    return None


def dump(res):
    for name, st, out in res["log"]:
        print("    [%s] %s" % (st, name))
        for line in out.splitlines()[-15:]:
            print("        " + line)


def pid_alive(pidfile_text):
    try:
        os.kill(int(pidfile_text), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def scenario(runner, tmp, name, inputs, extra_path=()):
    rt = os.path.join(tmp, name)
    os.makedirs(rt)
    inputs = dict(inputs)
    inputs.setdefault("report-dir", os.path.join(rt, "report"))
    print("--- scenario %s" % name)
    res = runner.run(inputs, rt, extra_path)
    res["report"] = inputs["report-dir"]
    res["rt"] = rt
    return res


def started_pid(res):
    for name, st, out in res["log"]:
        m = re.search(r"IUT running \(pid (\d+)\)", out)
        if m:
            return m.group(1)
    return None


def behaviour(action, tmp):
    runner = Runner(action, tmp)
    sock = lambda n: "unix:" + os.path.join(tmp, n + ".sock")

    # A: build from source, the reference peer is conformant.
    a = scenario(runner, tmp, "build-pass", {"install": "build", "iut": "vsok-peer listen -qq " + sock("a"),
                                             "target": sock("a"), "label": "reference peer"})
    if not check(a["ok"], "A build + reference peer: the job passes"):
        dump(a)
        return
    check(a["outputs"]["exit-code"] == "0", "A: output exit-code 0")
    up = a["uploads"][0][2] if a["uploads"] else []
    check(all(f in up for f in ("junit.xml", "report.html", "report.json", "conform.txt", "iut.log")),
          "A: the artifact holds junit.xml, report.html, report.json, conform.txt, iut.log")
    check("<testsuite" in open(os.path.join(a["report"], "junit.xml")).read(), "A: junit.xml is JUnit")
    check("CONFORMANT" in a["summary"], "A: the step summary has the verdict line")
    pid = started_pid(a)
    check(pid is not None and not pid_alive(pid), "A: the IUT was started and is stopped afterwards")
    bindir = os.path.join(a["rt"], "vsok", "bin")

    # B: the .debs of that build (cpack), an IUT that refuses large valid messages.
    debdir = os.path.join(tmp, "debs")
    os.makedirs(debdir)
    p = subprocess.run(["cpack", "-G", "DEB", "-B", debdir], cwd=os.path.join(a["rt"], "vsok-build"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if check(p.returncode == 0 and glob.glob(os.path.join(debdir, "*.deb")), "cpack made .debs for the debs install"):
        b = scenario(runner, tmp, "debs-fail", {"install": "debs", "debs": os.path.join(debdir, "*.deb"),
                                                "iut": "vsok-peer listen -qq --max-payload 1000 " + sock("b"),
                                                "target": sock("b")})
        check(not b["ok"], "B debs + peer limited to 1000-byte payloads: the job fails")
        check(b["outputs"]["exit-code"] == "1", "B: output exit-code 1")
        check(status(b, "Run vsok-conform") == "success" and status(b, "Verdict") == "failure",
              "B: it is the verdict step that fails, after the run")
        check(status(b, "Upload") == "success" and b["uploads"] and "junit.xml" in b["uploads"][0][2],
              "B: the reports are uploaded all the same")
        check("<failure" in open(os.path.join(b["report"], "junit.xml")).read(), "B: junit.xml has the failures")
        pid = started_pid(b)
        check(pid is not None and not pid_alive(pid), "B: the IUT is stopped")
        if not b["outputs"]["exit-code"] == "1":
            dump(b)

    # C: NON-STRICT only (the Python example IUT, made to check the magic
    # only once 8 header bytes are in): passes, unless strict: true.
    src = open(os.path.join(ROOT, "conformance", "examples", "iut.py")).read()
    late = src.replace('if not b"VSOK".startswith(buf[:4]):', 'if len(buf) >= 8 and buf[:4] != b"VSOK":')
    if check(late != src, "C: the late-magic IUT derived from conformance/examples/iut.py"):
        iut = os.path.join(tmp, "late_magic.py")
        with open(iut, "w") as f:
            f.write(late)
        common = {"install": "path", "iut": "%s %s %s" % (sys.executable, iut, sock("c")),
                  "target": sock("c"), "args": "--pick 'invalid.magic.*' --timeout 3s"}
        c1 = scenario(runner, tmp, "nonstrict", common, [bindir])
        check(c1["ok"], "C path + NON-STRICT IUT, strict false: the job passes")
        check("NON-STRICT" in open(os.path.join(c1["report"], "conform.txt")).read()
              and re.search(r"[1-9]\d* NON-STRICT", open(os.path.join(c1["report"], "conform.txt")).read()),
              "C: the run did report NON-STRICT cases (args --pick with quotes reached vsok-conform)")
        c2 = scenario(runner, tmp, "nonstrict-strict", dict(common, strict="true"), [bindir])
        check(not c2["ok"] and status(c2, "Verdict") == "failure", "C strict true: the job fails at the verdict")
        if not c1["ok"] or c2["ok"]:
            dump(c1)
            dump(c2)

    # D: an IUT that dies at start.
    d = scenario(runner, tmp, "iut-dies", {"install": "path", "iut": "echo cannot bind >&2; exit 3",
                                           "target": sock("d"), "ready-timeout": "20"}, [bindir])
    check(not d["ok"] and status(d, "Start") == "failure", "D dying IUT: the start step fails")
    check(status(d, "Run vsok-conform") == "skipped" and status(d, "Upload") == "success",
          "D: vsok-conform is skipped, the upload still runs")
    check(any("exited (status 3)" in out and "cannot bind" in out for _, _, out in d["log"]),
          "D: the error names the exit status and shows the IUT's log")

    # E: an exec: target, nothing to start.
    e = scenario(runner, tmp, "exec", {"install": "path", "target": "exec:vsok-peer stdio",
                                       "args": "--pick 'echo.*,split.*'"}, [bindir])
    check(e["ok"] and e["outputs"]["exit-code"] == "0", "E exec:vsok-peer stdio: the job passes")
    if not e["ok"]:
        dump(e)

    # F: bad install mode.
    f = scenario(runner, tmp, "bad-install", {"install": "nope", "target": sock("f")})
    check(not f["ok"] and status(f, "Install") == "failure", "F install: nope fails the install step")


def main():
    action = check_action(os.path.join(ROOT, "action.yml"))
    wfs = sorted(glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yml")) +
                 glob.glob(os.path.join(ROOT, "docs", "examples", "*.yml")))
    check(len(wfs) >= 3, "workflows found: %s" % ", ".join(os.path.relpath(w, ROOT) for w in wfs))
    for w in wfs:
        check_workflow(w)
    if "--structure-only" not in sys.argv and not failures:
        tmp = tempfile.mkdtemp(prefix="vsok-action.")
        try:
            behaviour(action, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("test_action.py: %s" % ("%d failure(s)" % len(failures) if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
