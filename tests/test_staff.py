"""Staff credentials, sessions and the /staff pages over real HTTP (stub engine, real server)."""
from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from web_support import STAFF_PASSWORD, STAFF_USER, StubAssistant, running_app, staff_config

from ldnqa.feedback import SQLiteFeedbackStore
from ldnqa.staff import (DISABLED_MESSAGE, LoginThrottle, Sessions, StaffConfig, make_hash_line,
                         parse_hash_lines)

# --- credentials -------------------------------------------------------------------------------


def test_hash_line_verifies_only_the_right_password():
    line = make_hash_line("alice", "correct horse battery")
    user, salt, digest = line.split(":")
    assert user == "alice" and len(salt) == 32 and len(digest) == 64
    assert "correct horse" not in line
    config = StaffConfig.from_lines(line)
    assert config.enabled
    assert config.verify("alice", "correct horse battery")
    assert not config.verify("alice", "correct horse batterY")
    assert not config.verify("bob", "correct horse battery")
    assert not config.verify("alice", "")


def test_same_password_gets_a_different_salt():
    assert make_hash_line("a", "0123456789") != make_hash_line("a", "0123456789")


@pytest.mark.parametrize("user, password", [("al ice", "long enough pw"), ("", "long enough pw"),
                                            ("a:b", "long enough pw"), ("alice", "short")])
def test_make_hash_line_refuses_bad_input(user, password):
    with pytest.raises(ValueError):
        make_hash_line(user, password)


def test_no_credentials_means_disabled_never_a_default():
    config = StaffConfig.from_env({})
    assert not config.enabled and config.problem == DISABLED_MESSAGE
    assert "LDNQA_STAFF_FILE" in DISABLED_MESSAGE
    assert not config.verify("admin", "admin") and not config.verify("", "")


def test_credentials_from_file_and_env(tmp_path):
    path = tmp_path / "staff.txt"
    path.write_text("# staff\n" + make_hash_line("alice", "alice password") + "\n\n")
    env = {"LDNQA_STAFF_FILE": str(path),
           "LDNQA_STAFF_PASSWORD_HASHES": make_hash_line("bob", "bob password!") + ","
           + make_hash_line("carol", "carol password")}
    config = StaffConfig.from_env(env)
    assert set(config.users) == {"alice", "bob", "carol"}
    assert config.verify("alice", "alice password") and config.verify("carol", "carol password")


def test_unreadable_or_malformed_credentials_disable_staff_access(tmp_path):
    missing = StaffConfig.from_env({"LDNQA_STAFF_FILE": str(tmp_path / "nope.txt")})
    assert not missing.enabled and "cannot read" in missing.problem
    bad = StaffConfig.from_env({"LDNQA_STAFF_PASSWORD_HASHES": "alice:plaintext-password"})
    assert not bad.enabled and "user:salt:hash" in bad.problem
    with pytest.raises(ValueError, match="line 2"):
        parse_hash_lines("\nalice:zz:zz", "file")


def test_session_cookies_are_signed_expire_and_can_be_revoked():
    sessions = Sessions(b"secret")
    cookie = sessions.issue("alice")
    assert sessions.user(cookie) == "alice"
    data, signature = cookie.split(".")
    assert sessions.user(f"{data}.{signature[:-2]}AA") is None  # tampered signature
    assert Sessions(b"other secret").user(cookie) is None
    assert sessions.user(None) is None and sessions.user("garbage") is None
    expired = Sessions(b"secret", lifetime=-1).issue("alice")
    assert sessions.user(expired) is None
    sessions.revoke(cookie)
    assert sessions.user(cookie) is None
    assert sessions.user(sessions.issue("alice")) == "alice"


def test_csrf_tokens_are_bound_to_their_session():
    sessions = Sessions(b"secret")
    a, b = sessions.issue("alice"), sessions.issue("alice")
    assert sessions.check_csrf(a, sessions.csrf_token(a))
    assert not sessions.check_csrf(a, sessions.csrf_token(b))
    assert not sessions.check_csrf(a, None) and not sessions.check_csrf(None, sessions.csrf_token(a))


def test_login_throttle_blocks_after_repeated_failures():
    throttle = LoginThrottle(limit=3, window=60)
    for _ in range(3):
        assert not throttle.blocked("1.2.3.4")
        throttle.failed("1.2.3.4")
    assert throttle.blocked("1.2.3.4") and not throttle.blocked("5.6.7.8")
    throttle.succeeded("1.2.3.4")
    assert not throttle.blocked("1.2.3.4")


# --- the /staff pages over HTTP ------------------------------------------------------------------


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory):
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("staff-data"), staff_config())


@pytest.fixture(scope="module")
def locked_app(tmp_path_factory):
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("locked-data"), StaffConfig.from_env({}))


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match[1]


def login(client: httpx.Client, password: str = STAFF_PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/staff").text)
    return client.post("/staff/login", data={"username": STAFF_USER, "password": password, "csrf": token})


def test_staff_pages_disabled_without_credentials(locked_app):
    with httpx.Client(base_url=locked_app.url) as client:
        for response in (client.get("/staff"), client.get("/staff/library"), client.get("/staff/export.csv"),
                         client.post("/staff/login", data={"username": "admin", "password": "admin"})):
            assert response.status_code == 503
            assert "Staff access is disabled: set LDNQA_STAFF_FILE" in response.text
            assert "ldnqa_staff" not in response.headers.get("set-cookie", "")


def test_wrong_password_is_refused(stub_app):
    with httpx.Client(base_url=stub_app.url) as client:
        response = login(client, "wrong password")
        assert response.status_code == 401
        assert "Wrong user name or password" in response.text
        assert "ldnqa_staff=" not in response.headers.get("set-cookie", "")
        assert "Review queue" not in client.get("/staff").text
        assert client.get("/staff/export.csv").status_code == 303  # to the login page


def test_login_without_form_token_is_refused(stub_app):
    with httpx.Client(base_url=stub_app.url) as client:
        client.get("/staff")
        response = client.post("/staff/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
        assert response.status_code == 403


def test_staff_review_flow(stub_app):
    store = SQLiteFeedbackStore.in_data_dir(stub_app.data_dir)
    item = store.add("Is <script>alert(1)</script> safe?", "Answer [1]",
                     [{"id": 1, "doc_id": "stub-study", "title": "Stub", "text": "Pain fell by 30%.",
                       "start": 0, "end": 17, "quotes": [[0, 17]]}],
                     None, reported=True, comment="=the citation does not say this")
    with httpx.Client(base_url=stub_app.url) as client:
        response = login(client)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "ldnqa_staff=" in cookie and "httponly" in cookie.lower()
        assert "samesite=strict" in cookie.lower()
        page = client.get("/staff").text
        assert "Review queue" in page and f'id="item-{item}"' in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
        assert "=the citation does not say this" in page and "<mark>Pain fell by 30%.</mark>" in page
        assert client.post(f"/staff/review/{item}", data={"note": "x"}).status_code == 403  # no CSRF
        assert store.get(item).reviewed_at is None
        token = csrf_of(page)
        response = client.post(f"/staff/review/{item}", data={"note": "checked", "csrf": token})
        assert response.status_code == 303
        reviewed = store.get(item)
        assert (reviewed.reviewed_by, reviewed.review_note) == (STAFF_USER, "checked")
        assert f'id="item-{item}"' not in client.get("/staff").text
        assert f'id="item-{item}"' in client.get("/staff?all=1").text

        export = client.get("/staff/export.csv")
        assert export.headers["content-type"].startswith("text/csv")
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(export.text))}
        assert rows[str(item)]["comment"] == "'=the citation does not say this"

        library = client.get("/staff/library").text
        assert "Stub &lt;b&gt;study&lt;/b&gt;" in library and "/doc/stub-study" in library
        assert "broken.md" in library  # skipped corpus files are listed

        client.post("/staff/logout", data={"csrf": token})
        assert "Staff login" in client.get("/staff").text


def test_logged_out_cookie_stops_working(stub_app):
    with httpx.Client(base_url=stub_app.url) as client:
        login(client)
        old_cookie = client.cookies.get("ldnqa_staff")
        token = csrf_of(client.get("/staff").text)
        client.post("/staff/logout", data={"csrf": token})
    with httpx.Client(base_url=stub_app.url, cookies={"ldnqa_staff": old_cookie}) as replay:
        assert "Staff login" in replay.get("/staff").text


def test_pages_forbid_framing_and_scripts(stub_app):
    response = httpx.get(f"{stub_app.url}/staff")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script" not in csp
    assert response.headers["cache-control"] == "no-store"
