"""Errors: invalid input is an InvalidInputError (a ValueError) with the message; wrong types
are TypeErrors; nothing panics across into Python."""

import pytest

import altodisc


@pytest.mark.parametrize(
    "call",
    [
        lambda: altodisc.xdom("999.1.2.3"),
        lambda: altodisc.xdom("192.0.2.0/33"),
        lambda: altodisc.resolve("bad..domain"),
        lambda: altodisc.resolve("."),
        lambda: altodisc.resolve("example.net", servers="not a server"),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1:1", timeout=-1),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1:1", attempts=0),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1:1", dnssec="maybe"),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1:1", service="ALTO:http"),
        lambda: altodisc.xdom_many(["192.0.2.1"], servers="127.0.0.1:1", concurrency=0),
        lambda: altodisc.xdom_many(["192.0.2.1", ""], servers="127.0.0.1:1"),
        lambda: altodisc.verify("not a uri"),
        lambda: altodisc.verify("http://alto.example.net/ird"),
        lambda: altodisc.verify("https://a.example/ird", ca_files="/nonexistent/ca.pem"),
        lambda: altodisc.discover(family="ipv5", domain="example.net", dhcp="off"),
        lambda: altodisc.discover(interface="no-such-if0", domain="example.net", dhcp="off"),
        lambda: altodisc.write_alto_conf("/tmp/never-written.conf", "ftp://a.example/"),
    ],
)
def test_invalid_input_is_a_value_error_with_a_message(call):
    with pytest.raises(altodisc.InvalidInputError) as e:
        call()
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, altodisc.AltodiscError)
    assert str(e.value)


def test_message_names_the_input():
    with pytest.raises(ValueError, match="999.1.2.3"):
        altodisc.xdom("999.1.2.3")
    with pytest.raises(ValueError, match="not a server"):
        altodisc.resolve("example.net", servers=["not a server"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: altodisc.xdom(12345),
        lambda: altodisc.xdom(None),
        lambda: altodisc.resolve(b"example.net"),
        lambda: altodisc.resolve("example.net", servers=[1, 2]),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1", timeout="2"),
        lambda: altodisc.resolve("example.net", servers="127.0.0.1", attempts=1.5),
        lambda: altodisc.xdom_many("192.0.2.1"),
        lambda: altodisc.xdom_many([object()]),
        lambda: altodisc.xdom_many(["192.0.2.1"], concurrency="8"),
        lambda: altodisc.verify(42),
        lambda: altodisc.write_alto_conf("/tmp/x.conf", 42),
    ],
)
def test_wrong_types_raise_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_negative_counts_are_rejected_not_wrapped():
    with pytest.raises((OverflowError, TypeError, ValueError)):
        altodisc.resolve("example.net", servers="127.0.0.1", attempts=-1)
    with pytest.raises((OverflowError, ValueError)):
        altodisc.xdom_many(["192.0.2.1"], servers="127.0.0.1", concurrency=-5)


def test_exception_hierarchy():
    assert issubclass(altodisc.InvalidInputError, ValueError)
    assert issubclass(altodisc.InvalidInputError, altodisc.AltodiscError)
    assert issubclass(altodisc.TemporaryFailureError, altodisc.AltodiscError)
    assert not issubclass(altodisc.TemporaryFailureError, ValueError)
