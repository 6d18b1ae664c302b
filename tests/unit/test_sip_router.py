"""The SIP front's routing, without sockets: which worker gets a call, what is rewritten, when a slot frees."""
from __future__ import annotations

from drivers.sip.message import Via, parse
from drivers.sip.router import LINGER_S, MAGIC, PENDING_S, Peer, Router

INNER = ("127.0.0.1", 41000)
W0, W1 = ("127.0.0.1", 42000), ("127.0.0.1", 42001)
GW = Peer("udp", "192.0.2.10", 5060)


def router(max_calls: int = 3) -> Router:
    r = Router(transport="udp", port=5070, inner=INNER, max_calls=max_calls, local_host=lambda peer: "192.0.2.1")
    r.add_worker(0, W0, 2)
    r.add_worker(1, W1, 2)
    return r


def request(method: str, call_id: str = "c1", *, to_tag: str = "", body: str = "", ctype: str = "",
            branch: str = "z9hG4bKgw1") -> bytes:
    head = (f"{method} sip:bhxh@192.0.2.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n"
            f"From: <sip:0912345678@gw>;tag=f\r\nTo: <sip:bhxh@box>{to_tag}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\nContact: <sip:gw@192.0.2.10:5060>\r\n")
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def test_an_invite_goes_to_the_least_loaded_worker_stamped_and_record_routed() -> None:
    r = router()
    [send] = r.from_outside(request("INVITE", "c1"), GW, 0.0)
    [send2] = r.from_outside(request("INVITE", "c2"), GW, 0.0)
    assert (send.worker, send2.worker) == (W0, W1)
    msg = parse(send.data)
    vias = [Via.parse(v) for v in msg.get_all("Via")]
    assert (vias[0].host, vias[0].port) == INNER and vias[0].branch.startswith(MAGIC)
    assert vias[1].param("received") == "192.0.2.10" and vias[1].param("rport") == "5060"
    assert msg.get("Record-Route") == "<sip:127.0.0.1:41000;lr>"


def test_retransmissions_and_cancel_follow_the_invite_with_the_same_branch() -> None:
    r = router()
    first = parse(r.from_outside(request("INVITE"), GW, 0.0)[0].data)
    again = r.from_outside(request("INVITE"), GW, 0.5)
    cancel = r.from_outside(request("CANCEL"), GW, 0.6)
    assert again[0].worker == cancel[0].worker == W0
    assert Via.parse(parse(cancel[0].data).get_all("Via")[0]).branch == Via.parse(first.get_all("Via")[0]).branch
    assert r.active == 1


def test_over_the_limit_the_front_answers_486_itself() -> None:
    r = router(max_calls=3)
    for n in range(3):
        assert r.from_outside(request("INVITE", f"c{n}"), GW, 0.0)[0].worker is not None
    [busy] = r.from_outside(request("INVITE", "c9"), GW, 0.0)
    reply = parse(busy.data)
    assert busy.peer == GW and reply.status == 486 and "tag=" in (reply.get("To") or "")
    assert r.refused == 1 and r.active == 3


def test_worker_responses_go_back_with_our_contact_and_without_our_record_route() -> None:
    r = router()
    forwarded = parse(r.from_outside(request("INVITE"), GW, 0.0)[0].data)
    ok = (f"SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in forwarded.get_all("Via"))
          + f"Record-Route: {forwarded.get('Record-Route')}\r\nFrom: <sip:0912345678@gw>;tag=f\r\n"
          "To: <sip:bhxh@box>;tag=b\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:resetline@127.0.0.1:42000;ob>\r\n"
          "Content-Length: 0\r\n\r\n").encode()
    [send] = r.from_worker(ok, W0, 0.1)
    msg = parse(send.data)
    assert send.peer == Peer("udp", "192.0.2.10", 5060)
    assert len(msg.get_all("Via")) == 1 and msg.get("Record-Route") is None
    assert msg.get("Contact") == "<sip:resetline@192.0.2.1:5070>"


def test_a_worker_bye_goes_to_the_far_end_through_the_front() -> None:
    r = router()
    r.from_outside(request("INVITE"), GW, 0.0)
    bye = (b"BYE sip:gw@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:42000;rport;branch=z9hG4bKw\r\n"
           b"Route: <sip:127.0.0.1:41000;lr>\r\nFrom: <sip:bhxh@box>;tag=b\r\nTo: <sip:0912345678@gw>;tag=f\r\n"
           b"Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
    [send] = r.from_worker(bye, W0, 5.0)
    msg = parse(send.data)
    assert send.peer == GW and msg.get("Route") is None
    top = Via.parse(msg.get_all("Via")[0])
    assert (top.host, top.port) == ("192.0.2.1", 5070) and top.branch.startswith(MAGIC)
    reply = msg.to_bytes().replace(b"BYE sip:gw@192.0.2.10:5060 SIP/2.0", b"SIP/2.0 200 OK")
    [back] = r.from_outside(reply, GW, 5.1)
    assert back.worker == W0 and len(parse(back.data).get_all("Via")) == 1
    assert r.active == 0  # the far end's 200 to the box's BYE frees the slot at once


def test_the_far_end_bye_frees_the_slot_when_the_worker_answers_it() -> None:
    r = router(max_calls=1)
    r.from_outside(request("INVITE"), GW, 0.0)
    forwarded = parse(r.from_outside(request("BYE", to_tag=";tag=b"), GW, 3.0)[0].data)
    ok = forwarded.to_bytes().replace(b"BYE sip:bhxh@192.0.2.1:5070 SIP/2.0", b"SIP/2.0 200 OK")
    assert r.from_worker(ok, W0, 3.01)[0].peer == GW
    assert r.active == 0 and r.from_outside(request("INVITE", "c2"), GW, 3.02)[0].worker is not None


def test_dtmf_info_is_rewritten_to_the_relay_shape() -> None:
    r = router()
    r.from_outside(request("INVITE"), GW, 0.0)
    [send] = r.from_outside(request("INFO", to_tag=";tag=b", body="7", ctype="application/dtmf"), GW, 1.0)
    msg = parse(send.data)
    assert msg.get("Content-Type") == "application/dtmf-relay" and msg.body == b"Signal=7\r\nDuration=160\r\n"


def test_slots_free_on_release_or_failure_and_entries_expire() -> None:
    r = router()
    r.from_outside(request("INVITE", "c1"), GW, 0.0)
    r.release("c1", 1.0)
    assert r.active == 0 and r.table_size == 1
    assert r.from_outside(request("BYE", "c1", to_tag=";tag=b"), GW, 2.0)[0].worker == W0  # still routed
    r.expire(1.0 + LINGER_S + 1)
    assert r.table_size == 0
    r.from_outside(request("INVITE", "c2"), GW, 100.0)
    r.expire(100.0 + PENDING_S + 1)  # the worker never answered it
    assert r.active == 0


def test_unknown_dialogs_options_and_strangers() -> None:
    r = router()
    assert parse(r.from_outside(request("BYE", "zz", to_tag=";tag=x"), GW, 0.0)[0].data).status == 481
    assert parse(r.from_outside(request("OPTIONS", "o1"), GW, 0.0)[0].data).status == 200
    assert r.from_outside(request("ACK", "zz", to_tag=";tag=x"), GW, 0.0) == []
    assert r.from_outside(b"garbage", GW, 0.0) == []
    assert r.from_worker(request("BYE"), ("127.0.0.1", 1), 0.0) == []  # not one of our workers


def test_a_dead_worker_takes_its_calls_with_it() -> None:
    r = router()
    r.from_outside(request("INVITE", "c1"), GW, 0.0)
    assert r.remove_worker(0, 1.0) == ["c1"]
    assert r.capacity == 2 and r.active == 0
