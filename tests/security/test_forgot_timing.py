"""Forgot-password answers take the same time whether or
not the e-mail has an account. The mail goes over a real (in-process, deliberately slow)
SMTP server, as in production where a mail server takes its time; the medians of 15
requests each must not differ by more than a fraction of that delay."""
from __future__ import annotations

import socket
import statistics
import time

import pytest

FORGOT = "/api/users/forgot-password"
SMTP_DELAY = 0.25


@pytest.fixture
def slow_smtp(app):
    controller = pytest.importorskip("aiosmtpd.controller")
    received = []

    class Slow:
        async def handle_DATA(self, server, session, envelope):
            import asyncio
            await asyncio.sleep(SMTP_DELAY)
            received.append(envelope.rcpt_tos[0])
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = controller.Controller(Slow(), hostname="127.0.0.1", port=port)
    ctl.start()
    saved = {k: app.config[k] for k in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS")}
    app.config.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_USE_TLS=False)
    try:
        yield received
    finally:
        from emrs import mail
        if hasattr(mail, "wait_for_background_mail"):
            mail.wait_for_background_mail(timeout=30)
        app.config.update(saved)
        ctl.stop()


def test_forgot_password_takes_the_same_time_for_known_and_unknown_emails(app, client, make_user, slow_smtp):
    known = [make_user("Resident") for _ in range(15)]
    timings = {"known": [], "unknown": []}
    for i, user in enumerate(known):
        for kind, address in (("known", user.email), ("unknown", f"nobody{i}@test.emrs.local")):
            start = time.perf_counter()
            resp = client.post(FORGOT, json={"email": address})
            timings[kind].append(time.perf_counter() - start)
            assert resp.status_code == 200
            assert resp.get_json()["message"] == "If an account with this email exists, a password reset OTP has been sent."
    gap = statistics.median(timings["known"]) - statistics.median(timings["unknown"])
    print(f"\nFIGURE forgot-password median gap known-unknown: {gap * 1000:.1f} ms "
          f"(SMTP takes {SMTP_DELAY * 1000:.0f} ms)")
    assert abs(gap) < SMTP_DELAY / 3, timings
    # The codes were still mailed, to the known addresses only.
    from emrs import mail
    if hasattr(mail, "wait_for_background_mail"):
        mail.wait_for_background_mail(timeout=30)
    assert sorted(slow_smtp) == sorted(u.email for u in known)
