"""SASL OAUTHBEARER with librdkafka (confluent-kafka's oauth_cb) against silt.

The test makes an RSA key with openssl, writes its public half as a JWKS
file the agent is given (--oauth-jwks-file), and signs RS256 tokens with
openssl: a token with the right issuer and audience produces and consumes
over SASL_PLAINTEXT; one for another audience, or signed by another key, is
refused with an authentication error.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

import harness
from kafka_util import create_topic, unique

ISSUER = "https://issuer.test"
AUDIENCE = "silt"


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _openssl(*args: str, cwd, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, check=True).stdout


def _rsa_key(work, name: str) -> int:
    """Makes an RSA key in work/name.pem and returns its modulus."""
    _openssl("genrsa", "-out", f"{name}.pem", "2048", cwd=work)
    out = _openssl("rsa", "-in", f"{name}.pem", "-noout", "-modulus", cwd=work).decode()
    return int(out.strip().split("=", 1)[1], 16)


def _token(work, key: str, claims: dict) -> str:
    header = _b64(json.dumps({"alg": "RS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = _openssl("dgst", "-sha256", "-sign", f"{key}.pem", cwd=work, stdin=signing_input)
    return f"{header}.{payload}.{_b64(sig)}"


def _claims(audience: str = AUDIENCE, ttl: int = 3600) -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "aud": audience, "sub": "carol", "iat": now, "exp": now + ttl}


@pytest.fixture(scope="module")
def oauth_silt(silt_bin, tmp_path_factory):
    work = tmp_path_factory.mktemp("silt-oauth")
    n = _rsa_key(work, "idp")
    _rsa_key(work, "other")
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                      "n": _b64(n.to_bytes((n.bit_length() + 7) // 8, "big")), "e": _b64((65537).to_bytes(3, "big"))}]}
    (work / "jwks.json").write_text(json.dumps(jwks))
    plain, sasl = harness.free_port(), harness.free_port()
    agent = harness.Silt(silt_bin, str(work / "bucket"), work, "py-oauth", extra_args=(
        "--listen", f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}",
        "--oauth-jwks-file", str(work / "jwks.json"), "--oauth-issuer", ISSUER, "--oauth-audience", AUDIENCE,
    )).start()
    yield work, f"127.0.0.1:{plain}", f"127.0.0.1:{sasl}"
    assert agent.stop() == 0, agent.log_tail(60)


def _conf(bootstrap: str, token_fn) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": lambda _config: (token_fn(), time.time() + 3600),
    }


def test_oauthbearer_produce_and_consume(oauth_silt):
    work, plain, sasl = oauth_silt
    topic = unique("py-oauth")
    create_topic(plain, topic, 1)
    good = lambda: _token(work, "idp", _claims())
    p = Producer({**_conf(sasl, good), "acks": "all"})
    errors = []
    for i in range(20):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(),
                  on_delivery=lambda err, _msg: errors.append(err) if err else None)
    assert p.flush(60) == 0, "records left unsent"
    assert not errors, errors

    c = Consumer({**_conf(sasl, good), "group.id": unique("py-oauth-group"), "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 20 and time.monotonic() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        got.append((msg.key(), msg.value()))
    c.close()
    assert got == [(str(i).encode(), f"v{i}".encode()) for i in range(20)]


@pytest.mark.parametrize("key,audience", [("idp", "another-service"), ("other", AUDIENCE)],
                         ids=["wrong audience", "another key"])
def test_oauthbearer_refused(oauth_silt, key, audience):
    work, _plain, sasl = oauth_silt
    errors = []
    admin = AdminClient({**_conf(sasl, lambda: _token(work, key, _claims(audience))), "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    # librdkafka reports the broker's SASL_AUTHENTICATION_FAILED through
    # error_cb, served by poll; the metadata request itself ends as a
    # transport failure.
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        admin.poll(0.5)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
