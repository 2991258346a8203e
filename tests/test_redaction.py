"""redaction: what a log line may say about a query, a path, or anything else. Pure, table
by table; and the formatter a server process logs through."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from imagegate.web.redaction import RedactingFormatter, redact_path, redact_query, redact_text

SIG = "0123456789abcdef" * 4
TOKEN = "igt_Zq3xY7vB2nM8kL4pR6sT0uW9"
KEY = "Qk9aM2x4V7n1B3c5D8f0G2h4J6k8L1m3N5p7R9s1T3v="

QUERIES = [
    # (case, raw query, as logged)
    ("empty", b"", ""),
    ("no credential", b"w=400&fit=cover&exp=1900000000", "w=400&fit=cover&exp=1900000000"),
    ("sig", f"exp=1900000000&sig={SIG}".encode(), "exp=1900000000&sig=REDACTED"),
    ("sig first", f"sig={SIG}&exp=1".encode(), "sig=REDACTED&exp=1"),
    ("sig after semicolon", f"exp=1;sig={SIG}".encode(), "exp=1;sig=REDACTED"),
    ("token", f"token={TOKEN}".encode(), "token=REDACTED"),
    ("access_token", b"access_token=abc&x=1", "access_token=REDACTED&x=1"),
    ("api_token", b"api_token=abc", "api_token=REDACTED"),
    ("key", f"key={KEY}".encode(), "key=REDACTED"),
    ("api_key and apikey", b"api_key=a&apikey=b", "api_key=REDACTED&apikey=REDACTED"),
    ("secret", b"client_secret=abc", "client_secret=REDACTED"),
    ("password", b"user=u&password=hunter2&pwd=x", "user=u&password=REDACTED&pwd=REDACTED"),
    ("signature", b"signature=abc", "signature=REDACTED"),
    (
        "s3 presigned",
        b"X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&X-Amz-Date=20260101",
        "X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Date=20260101",
    ),
    (
        "auth and session",
        b"auth=a&sessionid=b&jwt=c",
        "auth=REDACTED&sessionid=REDACTED&jwt=REDACTED",
    ),
    ("any case", b"TOKEN=a&Sig=b&PassWord=c", "TOKEN=REDACTED&Sig=REDACTED&PassWord=REDACTED"),
    ("array style", b"sig[]=a&token%5B%5D=b", "sig[]=REDACTED&token%5B%5D=REDACTED"),
    ("encoded name", b"%73ig=abc&t%6Fken=def", "%73ig=REDACTED&t%6Fken=REDACTED"),
    ("encoded twice", b"%2573ig=abc", "%2573ig=REDACTED"),
    ("uppercase escape", b"%53IG=abc", "%53IG=REDACTED"),
    ("token value, any name", f"t={TOKEN}&u=1".encode(), "t=REDACTED&u=1"),
    ("bearer value", b"h=Bearer%20abc&i=1", "h=REDACTED&i=1"),
    (
        "next carries an encoded token",
        b"next=%2Fdashboard%2Fimages%3Ftoken%3Dabc",
        "next=REDACTED",
    ),
    (
        "next carries a raw token",
        b"next=/dashboard?token=abc&w=1",
        "next=/dashboard?token=REDACTED&w=1",
    ),
    (
        "next innocent",
        b"next=%2Fdashboard%2Fimages%3Fpage%3D2",
        "next=%2Fdashboard%2Fimages%3Fpage%3D2",
    ),
    ("encoded innocent", b"v=%20%2A&exp=1&sig=ab", "v=%20%2A&exp=1&sig=REDACTED"),
    ("no value", b"sig&token", "sig&token"),
    ("empty value", b"sig=&token=", "sig=REDACTED&token=REDACTED"),
    ("value with equals", f"key={KEY}&b=c=d".encode(), "key=REDACTED&b=c=d"),
    ("latin-1 bytes", b"sig=\xff\xfe&n=\xe9", "sig=REDACTED&n=\xe9"),
]


@pytest.mark.parametrize(("query", "logged"), [c[1:] for c in QUERIES], ids=[c[0] for c in QUERIES])
def test_redact_query(query: bytes, logged: str) -> None:
    assert redact_query(query) == logged


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/upload/s3cr3t", "/upload/REDACTED"),
        ("/upload/s3cr3t/extra", "/upload/REDACTED/extra"),
        ("//upload/s3cr3t", "//upload/REDACTED"),
        ("/UPLOAD/s3cr3t", "/UPLOAD/REDACTED"),
        ("/upload//s3cr3t", "/upload//REDACTED"),
        ("/client/v4/upload/s3cr3t", "/client/v4/upload/REDACTED"),
        ("/upload/", "/upload/"),
        ("/hash/upload/public", "/hash/upload/public"),  # an image named "upload"
        ("/hash/img/public", "/hash/img/public"),
        ("/accounts/a/images/v1/keys/k", "/accounts/a/images/v1/keys/k"),
    ],
)
def test_redact_path(path: str, logged: str) -> None:
    assert redact_path(path) == logged


@pytest.mark.parametrize(
    ("text", "leaks"),
    [
        (f"GET https://h/x?token={TOKEN}&exp=1", [TOKEN]),
        ("Authorization: Bearer abc.def-ghi", ["abc.def-ghi"]),
        (f"sig {SIG} refused", [SIG]),
        (f"key value {KEY} in a repr", [KEY]),
        (f"{{'api_token': '{TOKEN}'}}", [TOKEN]),
        ("POST /upload/s3cr3tvalue failed", ["s3cr3tvalue"]),
        ("password=hunter2 in a message", ["hunter2"]),
    ],
)
def test_redact_text(text: str, leaks: list[str]) -> None:
    out = redact_text(text)
    assert "REDACTED" in out
    for leak in leaks:
        assert leak not in out


def test_redact_text_keeps_ordinary_lines() -> None:
    for line in (
        "signature refused: bad",
        "removed 3 temporary files left by interrupted writes",
        "delivery failed: CorruptImage",
        "could not remove orphan blob originals/0d44ddc7642a711313e2d09e55b8ff50/a1/x",
    ):
        assert redact_text(line) == line


def test_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter("%(levelname)s %(name)s %(message)s", skip=("access",))
    try:
        raise ValueError(f"bad input_value='{TOKEN}' for key {KEY}")
    except ValueError as exc:
        record = logging.LogRecord(
            "imagegate.web", logging.ERROR, __file__, 1, "failed on %s", (f"?sig={SIG}",),
            exc.__traceback__ and (type(exc), exc, exc.__traceback__),
        )  # fmt: skip
    text = formatter.format(record)
    assert "Traceback" in text and "ValueError" in text
    for secret in (TOKEN, KEY, SIG):
        assert secret not in text
    access = logging.LogRecord("access", logging.INFO, __file__, 1, "as is %s", (SIG,), None)
    assert formatter.format(access).endswith(SIG)  # already redacted field by field


def test_a_server_process_logs_through_the_redacting_formatter() -> None:
    """``configure_logging`` (what ``imagegate serve`` runs in each worker) in a process of
    its own: an error with a traceback that holds a token comes out without it."""
    script = (
        "import logging\n"
        "from imagegate.web.observe import configure_logging\n"
        "configure_logging()\n"
        "try:\n"
        f"    raise RuntimeError('upstream said token={TOKEN}')\n"
        "except RuntimeError as exc:\n"
        "    logging.getLogger('imagegate.web').error('unhandled error', exc_info=exc)\n"
        f"logging.getLogger('imagegate.fetch').warning('refused %s', 'Bearer {TOKEN}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "unhandled error" in done.stderr and "RuntimeError" in done.stderr
    assert TOKEN not in done.stderr and "REDACTED" in done.stderr
