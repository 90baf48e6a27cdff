"""Mutation check of the rules that matter most: remove each guard in turn, run its tests, expect a failure.

Every mutation names one guard in the source (a file, the exact snippet, what replaces it) and the tests that
must notice it is gone. The script copies ``src/``, ``tests/``, ``pyproject.toml`` and ``README.md`` to a
temporary directory, applies ONE mutation at a time to the copy (the working checkout is never touched: other
people edit it meanwhile), and runs pytest there with ``PYTHONPATH`` pointing at the copy's ``src``. A mutation
is *killed* when at least one of its tests fails, *survived* when they all pass.

    .venv/bin/python bench/mutations.py                 # every mutation, SQLite only
    .venv/bin/python bench/mutations.py --postgres      # SQLite and PostgreSQL (OPENMALL_TEST_DATABASE_URL)
    .venv/bin/python bench/mutations.py -k ssrf -k coupon   # only the mutations whose name or rule matches
    .venv/bin/python bench/mutations.py --list          # the mutations, checked against the source, no tests

Before the mutations, the unmutated copy runs every selected test once (the baseline): a test that fails there
is left out of the mutation runs (and listed), so a kill is always a test that was green before.

A snippet that is not found exactly once in its file stops the script before any test runs (exit 2): the
source changed, and the mutation must be brought up to date. Exit 1 when a mutation survived (or its run broke),
0 when every one was killed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "tests", "pyproject.toml", "README.md")
TIMEOUT = 900  # seconds per pytest run


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str
    path: str  # from the repository's root
    original: str  # exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # pytest arguments: files or node ids


STOCK = "src/openmall/catalog/stock.py"
CART = "src/openmall/orders/cart.py"
SHEETS = "src/openmall/orders/sheets.py"
PROMOTIONS = "src/openmall/promotions/service.py"
MILEAGE = "src/openmall/customers/mileage.py"
OAUTH = "src/openmall/oauth/server.py"
MEMBER_AUTH = "src/openmall/customers/auth.py"
DB = "src/openmall/kernel/db.py"
FASTSQL = "src/openmall/kernel/fastsql.py"
WORKER = "src/openmall/webhooks/worker.py"
WEBHOOKS = "src/openmall/webhooks/service.py"
TARGETS = "src/openmall/webhooks/targets.py"

MUTATIONS: tuple[Mutation, ...] = (
    # ---- no oversell ---------------------------------------------------------------------------------------
    Mutation("stock-take-unconditional", "no oversell", STOCK,
             'Variant.quantity >= bindparam("b_quantity"),', "",
             ("tests/orders/placing/test_payment.py",)),
    Mutation("cart-line-short-of-stock-orderable", "no oversell", CART,
             "        if self.stock < quantity:\n            return NOT_ENOUGH_STOCK",
             "        if False:\n            return NOT_ENOUGH_STOCK",
             ("tests/orders/test_sheets.py", "tests/orders/test_cart.py")),
    Mutation("cart-line-sold-out-orderable", "no oversell", CART,
             "        if self.stock <= 0:\n            return SOLD_OUT",
             "        if False:\n            return SOLD_OUT",
             ("tests/orders/test_sheets.py", "tests/orders/test_cart.py")),
    # ---- a coupon copy is used once ------------------------------------------------------------------------
    Mutation("coupon-use-unconditional", "single coupon use", PROMOTIONS,
             ".where(IssuedCoupon.issued_coupon_no == issued_coupon_no, IssuedCoupon.used_at.is_(None))",
             ".where(IssuedCoupon.issued_coupon_no == issued_coupon_no)",
             ("tests/promotions/test_concurrency.py", "tests/promotions/test_rules.py")),
    Mutation("coupon-used-twice-not-refused", "single coupon use", PROMOTIONS,
             "    if not result.rowcount:\n        raise Conflict(f\"Coupon {issued_coupon_no} has already been used",
             "    if False:\n        raise Conflict(f\"Coupon {issued_coupon_no} has already been used",
             ("tests/promotions/test_concurrency.py", "tests/promotions/test_rules.py")),
    Mutation("coupon-used-copy-offered", "single coupon use", PROMOTIONS,
             '    if copy.used_at is not None:\n        return "USED"',
             '    if False:\n        return "USED"',
             ("tests/promotions/test_rules.py", "tests/promotions/test_shop_api.py")),
    Mutation("coupon-late-restore-frees-newer-use", "single coupon use", PROMOTIONS,
             " or order_id not in (None, pair[0].used_order_id):", ":",
             ("tests/promotions/test_rules.py", "tests/orders/placing/test_claims.py")),
    # ---- mileage never negative ----------------------------------------------------------------------------
    Mutation("mileage-change-unconditional", "mileage never negative", MILEAGE,
             ".where(Member.member_no == member_no, Member.mileage_balance + delta >= 0)",
             ".where(Member.member_no == member_no)",
             ("tests/customers/test_mileage.py",)),
    Mutation("sheet-accepts-more-mileage-than-owned", "mileage never negative", SHEETS,
             "    if asked > owned:", "    if False:",
             ("tests/orders/test_sheets.py",)),
    # ---- refresh tokens and codes are used once ------------------------------------------------------------
    Mutation("oauth-refresh-replay-keeps-grant", "refresh reuse", OAUTH,
             "srv.revoke_grant(row.grant_id)  # a rotated-out refresh token came back",
             "pass  # a rotated-out refresh token came back",
             ("tests/oauth/test_flow.py",)),
    Mutation("oauth-refresh-race-loser-keeps-grant", "refresh reuse", OAUTH,
             "        if won.rowcount != 1:\n            self.server.revoke_grant(row.grant_id)\n"
             "            raise InvalidGrantError()",
             "        if won.rowcount != 1:\n            raise InvalidGrantError()",
             ("tests/oauth/test_flow.py",)),
    Mutation("oauth-refresh-spent-unconditionally", "refresh reuse", OAUTH,
             ".where(Token.token_no == row.token_no, Token.rotated_at.is_(None), Token.revoked_at.is_(None))",
             ".where(Token.token_no == row.token_no)",
             ("tests/oauth/test_flow.py",)),
    Mutation("oauth-code-replay-keeps-grant", "refresh reuse", OAUTH,
             "srv.revoke_grant(row.grant_id)  # a replayed code", "pass  # a replayed code",
             ("tests/oauth/test_flow.py",)),
    Mutation("oauth-code-spent-unconditionally", "refresh reuse", OAUTH,
             ".where(AuthorizationCode.code_no == row.code_no, AuthorizationCode.used_at.is_(None))",
             ".where(AuthorizationCode.code_no == row.code_no)",
             ("tests/oauth/test_flow.py",)),
    Mutation("oauth-code-race-loser-keeps-grant", "refresh reuse", OAUTH,
             "        if won.rowcount != 1:  # another request spent it a moment ago\n"
             "            self.server.revoke_grant(row.grant_id)\n",
             "        if won.rowcount != 1:  # another request spent it a moment ago\n",
             ("tests/oauth/test_flow.py",)),
    # the spent pair is both rotated and revoked: both conditions go
    Mutation("member-refresh-reusable", "refresh reuse", MEMBER_AUTH,
             ".where(MemberToken.refresh_digest == hashed, MemberToken.revoked_at.is_(None),\n"
             "               MemberToken.rotated_at.is_(None), MemberToken.refresh_expires_at > now)",
             ".where(MemberToken.refresh_digest == hashed, MemberToken.refresh_expires_at > now)",
             ("tests/customers/test_member_auth_security.py", "tests/customers/test_members.py")),
    Mutation("member-refresh-replay-keeps-family", "refresh reuse", MEMBER_AUTH,
             "        await _replayed(session, hashed, now)\n", "",
             ("tests/customers/test_member_auth_security.py",)),
    # ---- tenancy -------------------------------------------------------------------------------------------
    Mutation("orm-queries-not-scoped", "tenancy", DB,
             "    state.statement = state.statement.options(_mall_criteria(mall_id))", "    return",
             ("tests/kernel/test_tenancy.py",)),
    Mutation("new-row-of-another-mall-accepted", "tenancy", DB,
             "        elif mall_id not in (None, ALL_MALLS) and obj.mall_id != mall_id:", "        elif False:",
             ("tests/kernel/test_tenancy_guards.py", "tests/kernel/test_tenancy.py")),
    Mutation("unbound-session-reads-mall-tables", "tenancy", DB,
             "        if any(_is_mall_owned(m.entity) for m in state.all_mappers) or "
             "_names_mall_owned_table(state.statement):",
             "        if False:",
             ("tests/kernel/test_tenancy_guards.py", "tests/kernel/test_tenancy.py")),
    Mutation("raw-sql-unscoped", "tenancy", DB,
             "    if isinstance(state.statement, TextClause):", "    if False:",
             ("tests/kernel/test_tenancy_guards.py", "tests/kernel/test_tenancy.py")),
    Mutation("core-statements-unscoped", "tenancy", DB,
             "    if not state.is_orm_statement and _names_mall_owned_table(state.statement):", "    if False:",
             ("tests/kernel/test_tenancy_guards.py", "tests/kernel/test_tenancy.py")),
    Mutation("fastsql-without-in-mall", "tenancy", FASTSQL,
             "    if missing:\n        raise TenancyError(", "    if False:\n        raise TenancyError(",
             ("tests/kernel/test_fastsql.py", "tests/kernel/test_tenancy_guards.py")),
    # ---- webhook signatures --------------------------------------------------------------------------------
    Mutation("webhook-signed-with-one-secret-only", "webhook signatures", WORKER,
             "Webhook(s).sign(webhook_id, at, body) for s in secrets)",
             "Webhook(s).sign(webhook_id, at, body) for s in secrets[:1])",
             ("tests/webhooks/test_delivery.py",)),
    Mutation("webhook-signature-without-body", "webhook signatures", WORKER,
             "Webhook(s).sign(webhook_id, at, body) for s in secrets)",
             'Webhook(s).sign(webhook_id, at, "{}") for s in secrets)',
             ("tests/webhooks/test_delivery.py",)),
    Mutation("webhook-timestamp-not-the-signed-one", "webhook signatures", WORKER,
             '"webhook-timestamp": str(int(at.timestamp())),', '"webhook-timestamp": str(int(at.timestamp()) - 1),',
             ("tests/webhooks/test_delivery.py",)),
    Mutation("webhook-old-secret-signs-forever", "webhook signatures", WEBHOOKS,
             " and subscription.previous_until and subscription.previous_until > now:", ":",
             ("tests/webhooks/test_delivery.py", "tests/webhooks/test_worker_guards.py")),
    # ---- SSRF ----------------------------------------------------------------------------------------------
    Mutation("ssrf-resolver-accepts-private-answers", "SSRF", TARGETS,
             'bad = [r["host"] for r in found if _private(r["host"])]', "bad = []",
             ("tests/webhooks/test_workers.py::test_a_name_rebound_to_loopback_after_the_check_gets_nothing",
              "tests/webhooks/test_embedded_ipv4.py")),
    Mutation("ssrf-save-accepts-names-resolving-private", "SSRF", TARGETS,
             "bad = [a for a in addresses if _private(a)]", "bad = []",
             ("tests/webhooks/test_targets.py",)),
    Mutation("ssrf-every-unicast-address-public", "SSRF", TARGETS,
             "return not ip.is_global or ip.is_multicast", "return ip.is_multicast",
             ("tests/webhooks/test_targets.py", "tests/webhooks/test_embedded_ipv4.py")),
    Mutation("ssrf-localhost-names-accepted", "SSRF", TARGETS,
             "    if _is_local_name(host):\n        raise UnsafeTarget", "    if False:\n        raise UnsafeTarget",
             ("tests/webhooks/test_targets.py",)),
    Mutation("ssrf-worker-skips-its-own-check", "SSRF", WORKER,
             "check_without_dns(work.url, self.settings.webhooks_allow_private)  # names: when they resolve",
             "pass  # names: when they resolve",
             ("tests/webhooks/test_worker_guards.py",)),
    Mutation("ssrf-worker-follows-redirects", "SSRF", WORKER,
             "allow_redirects=False", "allow_redirects=True",
             ("tests/webhooks/test_worker_guards.py",)),
)  # fmt: skip


def check_snippets(mutations: list[Mutation]) -> list[str]:
    problems = []
    for m in mutations:
        path = ROOT / m.path
        if not path.exists():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        found = path.read_text().count(m.original)
        if found != 1:
            problems.append(f"{m.name}: the snippet is found {found} times in {m.path} (must be once):\n"
                            f"    {m.original!r}")  # fmt: skip
        for test in m.tests:
            if not (ROOT / test.split("::", 1)[0]).exists():
                problems.append(f"{m.name}: the test {test} does not exist")
    return problems


def copy_tree(into: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, into / name)


def environment(copy: Path, postgres: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), str(copy)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if not postgres:
        env.pop("OPENMALL_TEST_DATABASE_URL", None)  # the PostgreSQL half of each test skips
    elif not env.get("OPENMALL_TEST_DATABASE_URL"):
        sys.exit("--postgres needs OPENMALL_TEST_DATABASE_URL (a PostgreSQL database the tests may wipe)")
    return env


def pytest(copy: Path, env: dict[str, str], tests: list[str], workers: str, *, stop_first: bool,
           deselect: list[str] | None = None) -> tuple[int, str]:  # fmt: skip
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers, "-rfE", "-o", "addopts=",
            *(["-x"] if stop_first else []), *[f"--deselect={d}" for d in deselect or []], *tests]  # fmt: skip
    try:
        done = subprocess.run(args, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        return -1, f"timed out after {TIMEOUT} s\n{exc.stdout or ''}"
    return done.returncode, done.stdout + done.stderr


FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def failures(output: str) -> list[str]:
    return list(dict.fromkeys(FAILED.findall(output)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", action="append", default=[], help="only mutations whose name or rule contains this")
    parser.add_argument("--postgres", action="store_true", help="run the PostgreSQL half of each test too")
    parser.add_argument("-n", default="0", help="pytest-xdist workers per run (default 0)")
    parser.add_argument("--list", action="store_true", help="check the snippets and list the mutations")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    options = parser.parse_args()

    chosen = [m for m in MUTATIONS if not options.k or any(k.lower() in f"{m.name} {m.rule}".lower()
                                                           for k in options.k)]  # fmt: skip
    problems = check_snippets(chosen)
    if problems:
        print("Mutations out of date with the source (fix bench/mutations.py):", *problems, sep="\n  ")
        return 2
    if options.list:
        for m in chosen:
            print(f"{m.rule:24} {m.name:44} {m.path}")
        return 0

    copy = Path(tempfile.mkdtemp(prefix="openmall-mutations-"))
    try:
        copy_tree(copy)
        env = environment(copy, options.postgres)
        where = subprocess.run([sys.executable, "-c", "import openmall; print(openmall.__file__)"], cwd=copy,
                               env=env, capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        if not where.startswith(str(copy)):
            print(f"the copy's openmall is not the one imported ({where}); refusing to go on")
            return 2

        tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
        started = time.monotonic()
        databases = "SQLite + PostgreSQL" if options.postgres else "SQLite"
        print(f"baseline: {len(tests)} test files on the unmutated copy ({databases}) …", flush=True)
        code, output = pytest(copy, env, tests, options.n, stop_first=False)
        red = failures(output)
        if code not in (0, 1) or (code == 1 and not red):
            print(f"the baseline run broke (pytest exit {code}):\n{output[-3000:]}")
            return 1
        if red:
            print("left out, failing before any mutation:", *red, sep="\n  ")
        print(f"baseline done in {time.monotonic() - started:.0f} s", flush=True)

        rows: list[tuple[Mutation, str, str]] = []
        for m in chosen:
            target = copy / m.path
            pristine = target.read_text()
            target.write_text(pristine.replace(m.original, m.replacement, 1))
            t0 = time.monotonic()
            try:
                code, output = pytest(copy, env, list(m.tests), options.n, stop_first=True, deselect=red)
            finally:
                target.write_text(pristine)
            killers = failures(output)
            if code == 1 and killers:
                verdict, by = "killed", killers[0]
            elif code == 0:
                verdict, by = "SURVIVED", ""
            else:
                tail = output.strip().splitlines()[-1] if output.strip() else ""
                verdict, by = "BROKE", f"pytest exit {code}: {tail}"
            rows.append((m, verdict, by))
            print(f"  {m.name:44} {verdict:8} {time.monotonic() - t0:5.0f} s  {by}", flush=True)

        width = max(len(m.name) for m in chosen)
        print(f"\n{'rule':24} {'mutation':{width}} {'result':8} by")
        for m, verdict, by in rows:
            print(f"{m.rule:24} {m.name:{width}} {verdict:8} {by}")
        alive = [m.name for m, verdict, _ in rows if verdict != "killed"]
        print(f"\n{len(rows) - len(alive)} of {len(rows)} killed in {time.monotonic() - started:.0f} s"
              + (f"; not killed: {', '.join(alive)}" if alive else ""))  # fmt: skip
        return 1 if alive else 0
    finally:
        if options.keep:
            print(f"copy kept in {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
