"""Dependency and code security gate, run by ``make audit`` (and so by ``.ci/run``).

- pip-audit on the installed environment (.venv: what the tests ran against; the image pins
  the same versions in deploy/requirements.lock). Any known vulnerability fails, unless it is
  listed in ``EXPLAINED_VULNERABILITIES`` below with the reason it does not apply.
- bandit on the ``finance_platform`` package. A HIGH-severity finding fails; medium and low
  findings are printed so a reviewer sees them (deploy/README.md explains the current ones).

pip-audit needs the PyPI / OSV vulnerability services. When they cannot be reached (an
offline CI runner, a registry mirror without the JSON API) it says so loudly and does not
fail: a network outage is not a vulnerability, but "not audited" must never read as "clean".
Set ``AUDIT_STRICT=1`` to make an unreachable vulnerability service fail too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Vulnerability id -> why it does not affect this platform. Empty: nothing explained away.
EXPLAINED_VULNERABILITIES: dict[str, str] = {}

_NETWORK_MARKERS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "timed out",
    "Connection refused",
    "Network is unreachable",
)
_NOT_ANSWERED = ("not found on PyPI", "could not be audited")


def run_pip_audit() -> bool:
    """True unless a known, unexplained vulnerability was found."""
    cmd = [
        sys.executable,
        "-m",
        "pip_audit",
        "--skip-editable",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)  # noqa: S603
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        if any(marker in proc.stderr for marker in _NETWORK_MARKERS):
            return _unreachable("the vulnerability service could not be reached")
        print(proc.stderr[-3000:], file=sys.stderr)
        print("pip-audit: FAILED to run (not a network problem; see above)")
        return False

    deps = report.get("dependencies", [])
    unanswered = [d for d in deps if any(m in d.get("skip_reason", "") for m in _NOT_ANSWERED)]
    audited = [d for d in deps if "skip_reason" not in d]
    if deps and not audited:
        return _unreachable(
            f"none of {len(deps)} packages got an answer from the vulnerability service "
            "(e.g. a registry mirror without PyPI's JSON API)"
        )

    findings = [(d["name"], d["version"], v) for d in audited for v in d.get("vulns", [])]
    unexplained = [f for f in findings if f[2]["id"] not in EXPLAINED_VULNERABILITIES]
    for name, version, vuln in findings:
        note = EXPLAINED_VULNERABILITIES.get(vuln["id"], "UNEXPLAINED")
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"pip-audit: {name} {version} {vuln['id']} (fixed in: {fixes}) -- {note}")
    print(
        f"pip-audit: {len(audited)} packages audited, {len(unanswered)} not known to the "
        f"service, {len(findings)} vulnerabilities, {len(unexplained)} unexplained"
    )
    return not unexplained


def _unreachable(why: str) -> bool:
    print(
        "pip-audit: NOT AUDITED -- "
        + why
        + ". Dependencies were NOT checked for known vulnerabilities; run `make audit` "
        "where pypi.org / osv.dev are reachable."
    )
    return os.environ.get("AUDIT_STRICT", "") != "1"


def run_bandit() -> bool:
    """True unless bandit reports a HIGH-severity issue in the package."""
    cmd = [sys.executable, "-m", "bandit", "-r", "finance_platform", "-q", "-f", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # noqa: S603
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(proc.stderr[-3000:], file=sys.stderr)
        print("bandit: FAILED to run")
        return False
    results = report.get("results", [])
    high = [r for r in results if r["issue_severity"] == "HIGH"]
    for r in sorted(results, key=lambda r: (r["issue_severity"] != "HIGH", r["filename"])):
        if r["issue_severity"] in ("HIGH", "MEDIUM"):
            print(
                f"bandit: {r['issue_severity']}/{r['issue_confidence']} {r['test_id']} "
                f"{r['filename']}:{r['line_number']} {r['issue_text']}"
            )
    totals = report.get("metrics", {}).get("_totals", {})
    print(
        "bandit: {h} high, {m} medium, {l} low findings in {loc} lines".format(
            h=len(high),
            m=int(totals.get("SEVERITY.MEDIUM", 0)),
            l=int(totals.get("SEVERITY.LOW", 0)),
            loc=int(totals.get("loc", 0)),
        )
    )
    return not high


def main() -> int:
    ok_deps = run_pip_audit()
    ok_code = run_bandit()
    if ok_deps and ok_code:
        print("audit: passed")
        return 0
    print("audit: FAILED")
    return 1


if __name__ == "__main__":
    sys.exit(main())
