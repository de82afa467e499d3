"""A small request body is read whole before the request asks for a model slot (README
"Overload and attacks"): a client that announces a body and sends it slowly holds its own
connection, not one of the model's slots; a body over 64 KiB is streamed as before (it takes
its slot at once), and a buffered body reaches the model intact over HTTP/1.1 and HTTP/2."""
import http.client
import json
import socket
import time

import h2.config
import h2.connection
import h2.events

from conftest import KEY, settings_for

SCORE = "/api/v1/endpoint/fraud/score"
ECHO = "/api/v1/endpoint/fraud/echo"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def one_slot_router(start_router, pki, model):
    return start_router(settings_for(pki, [model.address], insecure=True,
                                     request_settings={"max_concurrent_requests_per_instance": 1,
                                                       "max_queue_wait_ms": 300}), workers=1)


def hold_a_body(port, length):
    """A request whose head announces `length` body bytes, of which only one is sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"POST {SCORE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{").encode())
    time.sleep(0.2)  # the router has the head
    return s


def score(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.monotonic()
    c.request("POST", SCORE, body=b'{"data": [[1, 2]]}', headers=AUTH)
    r = c.getresponse()
    r.read()
    return r.status, time.monotonic() - t0


def test_a_slow_small_body_holds_no_slot(pki, model, start_router):
    router = one_slot_router(start_router, pki, model)
    slow = [hold_a_body(router.port, 1000) for _ in range(3)]
    status, took = score(router.port)
    assert status == 200 and took < 0.3, (status, took)  # not queued behind the slow ones
    for s in slow:
        s.close()


def test_a_body_over_64_kib_is_streamed_and_takes_its_slot(pki, model, start_router):
    router = one_slot_router(start_router, pki, model)
    slow = hold_a_body(router.port, 64 * 1024 + 1)
    status, took = score(router.port)
    assert status == 429, (status, took)  # the one slot is the streaming upload's
    slow.close()


def test_a_buffered_body_reaches_the_model_whole(pki, model, start_router):
    router = one_slot_router(start_router, pki, model)
    body = json.dumps({"x": "y" * 60000}).encode()
    c = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    c.request("POST", ECHO, body=body, headers=AUTH)
    r = c.getresponse()
    assert (r.status, r.read()) == (200, body)
    # HTTP/2 (prior knowledge on the plain listener), a body in several DATA frames
    s = socket.create_connection(("127.0.0.1", router.port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":path", ECHO), (":scheme", "http"),
                            (":authority", "localhost"), ("authorization", f"Bearer {KEY}"),
                            ("content-length", str(len(body)))])
    for i in range(0, len(body), 16000):
        conn.send_data(sid, body[i:i + 16000], end_stream=i + 16000 >= len(body))
    s.sendall(conn.data_to_send())
    got, done, deadline = b"", False, time.monotonic() + 10
    while not done and time.monotonic() < deadline:
        for ev in conn.receive_data(s.recv(65536)):
            if isinstance(ev, h2.events.DataReceived):
                got += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            done = done or isinstance(ev, h2.events.StreamEnded)
        s.sendall(conn.data_to_send())
    s.close()
    assert done and got == body
