#!/usr/bin/env python3
"""A controllable gRPC model server for integration tests: a real gRPC (HTTP/2) upstream.

Why: scoregate routes gRPC to model servers; the tests need a real grpcio server whose
behaviour a test can steer per call and whose view of the request (headers, deadline) a test
can read back from the response.

Services (messages in oip_v2.py):
  inference.GRPCInferenceService  ServerLive, ServerReady, ModelReady, ModelMetadata,
      ModelInfer (unary: output 'sum' = the sum of each row of input 0, FP32, shape [rows, 1];
      model_name and id echoed), ModelStreamInfer (bidi: one ModelStreamInferResponse per request)
  scoregate.test.Probe  Count (server streaming: CountRequest.n replies, gap_ms apart, each
      with payload_bytes of payload), Collect (client streaming: total bytes and message count)

Controls, as request metadata (any method):
  x-sleep-ms: N       sleep N ms before answering (before the first message of a stream)
  x-hold-ms: N        sleep N ms before even the response headers (a model that has not
                      answered at all yet, for the router's request_timeout_ms)
  x-fail: CODE        answer with that grpc.StatusCode name (e.g. NOT_FOUND) and the details
                      "x-fail asked for CODE"
  x-die-after: N      streaming: after N messages sent (Count, ModelStreamInfer) or received
                      (Collect), kill the whole process (os._exit(3)); N=0 dies before the
                      first message; unary methods die before answering whatever N is
What every call answers with:
  initial metadata  x-model-name (--name), x-model-port, x-deadline-ms (time left when the call
                    arrived, integer ms, or "none"), x-seen-authorization ("present"/"absent",
                    never the value), and, when the request had them, x-seen-x-forwarded-for,
                    x-seen-x-request-id, x-seen-azureml-endpoint (the values as received)
  trailing metadata x-model-trailer: ok (also on x-fail errors)

usage: grpc_model.py [--host 127.0.0.1] [--port 0] [--name grpc-model]
                     [--tls-cert PEM --tls-key PEM]
Prints "LISTENING <port>" on stdout once bound.
"""
import argparse
import os
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oip_v2 as oip  # noqa: E402

ECHOED = ("x-forwarded-for", "x-request-id", "azureml-endpoint")
ARGS = None
PORT = 0


def die():
    """Leave no time for a graceful close: the peer must see the stream cut mid-way. The short
    sleep lets grpc's transport thread write the messages already handed to it."""
    sys.stdout.flush()
    time.sleep(0.2)
    os._exit(3)


class Call:
    """The per-call controls read from the request metadata; sends the echo metadata."""

    def __init__(self, context):
        self.context = context
        md = {}
        for k, v in context.invocation_metadata():
            md.setdefault(k.lower(), v)
        remaining = context.time_remaining()
        deadline = "none" if remaining is None or remaining > 1e8 else str(int(remaining * 1000))
        initial = [("x-model-name", ARGS.name), ("x-model-port", str(PORT)), ("x-deadline-ms", deadline),
                   ("x-seen-authorization", "present" if "authorization" in md else "absent")]
        initial += [(f"x-seen-{k}", md[k]) for k in ECHOED if k in md]
        if md.get("x-hold-ms"):
            time.sleep(int(md["x-hold-ms"]) / 1000)
        context.send_initial_metadata(initial)
        context.set_trailing_metadata([("x-model-trailer", "ok")])
        self.sleep_ms = int(md.get("x-sleep-ms", "0") or 0)
        self.fail = md.get("x-fail")
        self.die_after = int(md["x-die-after"]) if "x-die-after" in md else None

    def start(self):
        """Sleep and fail as asked; call before producing the first answer."""
        if self.sleep_ms:
            time.sleep(self.sleep_ms / 1000)
        if self.fail:
            code = getattr(grpc.StatusCode, self.fail.upper(), grpc.StatusCode.UNKNOWN)
            self.context.abort(code, f"x-fail asked for {self.fail}")

    def unary(self):
        """A unary call has no mid-stream: any x-die-after kills it before it answers."""
        if self.die_after is not None:
            die()

    def count(self, done):
        """Dies once `done` messages have gone (or come) through, if x-die-after asked for it."""
        if self.die_after is not None and done >= self.die_after:
            die()


def infer(req):
    rows = oip.input_rows(req) if req.inputs else []
    resp = oip.ModelInferResponse(model_name=req.model_name, model_version=req.model_version or "1",
                                  id=req.id)
    out = resp.outputs.add(name="sum", datatype="FP32", shape=[len(rows), 1])
    out.contents.fp32_contents.extend(float(sum(r)) for r in rows)
    return resp


def model_infer(req, context):
    call = Call(context)
    call.start()
    call.unary()
    return infer(req)


def model_stream_infer(requests, context):
    call = Call(context)
    call.start()
    call.count(0)
    sent = 0
    for req in requests:
        yield oip.ModelStreamInferResponse(infer_response=infer(req))
        sent += 1
        call.count(sent)


def count(req, context):
    call = Call(context)
    call.start()
    call.count(0)
    for i in range(req.n):
        if i and req.gap_ms:
            time.sleep(req.gap_ms / 1000)
        yield oip.CountReply(index=i, payload=b"p" * req.payload_bytes)
        call.count(i + 1)


def collect(requests, context):
    call = Call(context)
    call.start()
    total = n = 0
    for chunk in requests:
        total += len(chunk.data)
        n += 1
        call.count(n)
    return oip.CollectReply(total_bytes=total, messages=n)


def simple(answer):
    def handler(req, context):
        call = Call(context)
        call.start()
        call.unary()
        return answer(req)
    return handler


def metadata(req):
    resp = oip.ModelMetadataResponse(name=req.name or ARGS.name, versions=["1"], platform="scoregate-test")
    resp.inputs.add(name="input-0", datatype="FP32", shape=[-1, -1])
    resp.outputs.add(name="sum", datatype="FP32", shape=[-1, 1])
    return resp


HANDLERS = {
    "ServerLive": simple(lambda r: oip.ServerLiveResponse(live=True)),
    "ServerReady": simple(lambda r: oip.ServerReadyResponse(ready=True)),
    "ModelReady": simple(lambda r: oip.ModelReadyResponse(ready=True)),
    "ModelMetadata": simple(metadata),
    "ModelInfer": model_infer,
    "ModelStreamInfer": model_stream_infer,
    "Count": count,
    "Collect": collect,
}


def generic_handlers():
    by_service = {}
    for method, (service, req, resp, kind) in oip.METHODS.items():
        make = getattr(grpc, f"{kind}_rpc_method_handler")
        by_service.setdefault(service, {})[method] = make(
            HANDLERS[method], request_deserializer=req.FromString, response_serializer=resp.SerializeToString)
    return [grpc.method_handlers_generic_handler(s, m) for s, m in by_service.items()]


def main():
    global ARGS, PORT
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--name", default="grpc-model")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--workers", type=int, default=32)
    ARGS = p.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=ARGS.workers),
                         handlers=generic_handlers(), maximum_concurrent_rpcs=None)
    address = f"{ARGS.host}:{ARGS.port}"
    if ARGS.tls_cert:
        creds = grpc.ssl_server_credentials([(Path(ARGS.tls_key).read_bytes(), Path(ARGS.tls_cert).read_bytes())])
        PORT = server.add_secure_port(address, creds)
    else:
        PORT = server.add_insecure_port(address)
    if not PORT:
        sys.exit(f"grpc_model: cannot bind {address}")
    server.start()
    print(f"LISTENING {PORT}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
