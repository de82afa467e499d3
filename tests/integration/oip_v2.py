"""Open Inference Protocol v2 (KServe / Triton `inference.GRPCInferenceService`) messages,
built at run time from a descriptor, plus the test-only `scoregate.test.Probe` service.

Why: the gRPC integration tests need real protobuf messages on the wire (the router must pass
them through untouched) without a protoc step or generated *_pb2 files. grpc_model.py serves
these messages and the tests' clients use the same classes, so both sides agree by construction.

Field numbers follow KServe's grpc_predict_v2.proto, so a real OIP v2 client can talk to
grpc_model.py. Left out: the `parameters` maps (their field numbers are not reused; an unknown
field sent by a real client is kept and ignored by protobuf).

Use:
    import oip_v2 as oip
    req = oip.ModelInferRequest(model_name="fraud", id="r1")
    t = req.inputs.add(name="x", datatype="FP32", shape=[2, 3])
    t.contents.fp32_contents.extend([1, 2, 3, 4, 5, 6])
    stub = oip.unary(channel, "ModelInfer")      # a callable: stub(req, metadata=..., timeout=...)
"""
import struct

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
_TYPES = {"string": F.TYPE_STRING, "bool": F.TYPE_BOOL, "int32": F.TYPE_INT32, "int64": F.TYPE_INT64,
          "uint32": F.TYPE_UINT32, "uint64": F.TYPE_UINT64, "float": F.TYPE_FLOAT,
          "double": F.TYPE_DOUBLE, "bytes": F.TYPE_BYTES}

OIP_SERVICE = "inference.GRPCInferenceService"
PROBE_SERVICE = "scoregate.test.Probe"


def _message(name, fields, nested=()):
    """fields: (name, number, type, repeated); type is a scalar name or a '.pkg.Message' name."""
    m = descriptor_pb2.DescriptorProto(name=name)
    for fname, number, ftype, repeated in fields:
        f = m.field.add(name=fname, number=number,
                        label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
        if ftype in _TYPES:
            f.type = _TYPES[ftype]
        else:
            f.type, f.type_name = F.TYPE_MESSAGE, ftype
    m.nested_type.extend(nested)
    return m


def _tensor(name):
    return _message(name, [("name", 1, "string", False), ("datatype", 2, "string", False),
                           ("shape", 3, "int64", True),
                           ("contents", 5, ".inference.InferTensorContents", False)])


def _oip_file():
    fd = descriptor_pb2.FileDescriptorProto(name="scoregate_test/grpc_predict_v2.proto",
                                            package="inference", syntax="proto3")
    fd.message_type.extend([
        _message("ServerLiveRequest", []),
        _message("ServerLiveResponse", [("live", 1, "bool", False)]),
        _message("ServerReadyRequest", []),
        _message("ServerReadyResponse", [("ready", 1, "bool", False)]),
        _message("ModelReadyRequest", [("name", 1, "string", False), ("version", 2, "string", False)]),
        _message("ModelReadyResponse", [("ready", 1, "bool", False)]),
        _message("ModelMetadataRequest", [("name", 1, "string", False), ("version", 2, "string", False)]),
        _message("ModelMetadataResponse",
                 [("name", 1, "string", False), ("versions", 2, "string", True),
                  ("platform", 3, "string", False),
                  ("inputs", 4, ".inference.ModelMetadataResponse.TensorMetadata", True),
                  ("outputs", 5, ".inference.ModelMetadataResponse.TensorMetadata", True)],
                 nested=[_message("TensorMetadata", [("name", 1, "string", False),
                                                     ("datatype", 2, "string", False),
                                                     ("shape", 3, "int64", True)])]),
        _message("InferTensorContents",
                 [("bool_contents", 1, "bool", True), ("int_contents", 2, "int32", True),
                  ("int64_contents", 3, "int64", True), ("uint_contents", 4, "uint32", True),
                  ("uint64_contents", 5, "uint64", True), ("fp32_contents", 6, "float", True),
                  ("fp64_contents", 7, "double", True), ("bytes_contents", 8, "bytes", True)]),
        _message("ModelInferRequest",
                 [("model_name", 1, "string", False), ("model_version", 2, "string", False),
                  ("id", 3, "string", False),
                  ("inputs", 5, ".inference.ModelInferRequest.InferInputTensor", True),
                  ("outputs", 6, ".inference.ModelInferRequest.InferRequestedOutputTensor", True),
                  ("raw_input_contents", 7, "bytes", True)],
                 nested=[_tensor("InferInputTensor"),
                         _message("InferRequestedOutputTensor", [("name", 1, "string", False)])]),
        _message("ModelInferResponse",
                 [("model_name", 1, "string", False), ("model_version", 2, "string", False),
                  ("id", 3, "string", False),
                  ("outputs", 5, ".inference.ModelInferResponse.InferOutputTensor", True),
                  ("raw_output_contents", 6, "bytes", True)],
                 nested=[_tensor("InferOutputTensor")]),
        _message("ModelStreamInferResponse",
                 [("error_message", 1, "string", False),
                  ("infer_response", 2, ".inference.ModelInferResponse", False)]),
    ])
    return fd


def _probe_file():
    fd = descriptor_pb2.FileDescriptorProto(name="scoregate_test/probe.proto",
                                            package="scoregate.test", syntax="proto3")
    fd.message_type.extend([
        _message("CountRequest", [("n", 1, "int32", False), ("gap_ms", 2, "int32", False),
                                  ("payload_bytes", 3, "int32", False)]),
        _message("CountReply", [("index", 1, "int32", False), ("payload", 2, "bytes", False)]),
        _message("Chunk", [("data", 1, "bytes", False)]),
        _message("CollectReply", [("total_bytes", 1, "int64", False), ("messages", 2, "int32", False)]),
    ])
    return fd


POOL = descriptor_pool.DescriptorPool()
POOL.Add(_oip_file())
POOL.Add(_probe_file())
_FACTORY = message_factory.MessageFactory(POOL)


def message_class(full_name):
    """The generated class of a message in POOL, e.g. 'inference.ModelInferRequest'."""
    desc = POOL.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    return get(desc) if get else _FACTORY.GetPrototype(desc)


ServerLiveRequest = message_class("inference.ServerLiveRequest")
ServerLiveResponse = message_class("inference.ServerLiveResponse")
ServerReadyRequest = message_class("inference.ServerReadyRequest")
ServerReadyResponse = message_class("inference.ServerReadyResponse")
ModelReadyRequest = message_class("inference.ModelReadyRequest")
ModelReadyResponse = message_class("inference.ModelReadyResponse")
ModelMetadataRequest = message_class("inference.ModelMetadataRequest")
ModelMetadataResponse = message_class("inference.ModelMetadataResponse")
InferTensorContents = message_class("inference.InferTensorContents")
ModelInferRequest = message_class("inference.ModelInferRequest")
ModelInferResponse = message_class("inference.ModelInferResponse")
ModelStreamInferResponse = message_class("inference.ModelStreamInferResponse")
CountRequest = message_class("scoregate.test.CountRequest")
CountReply = message_class("scoregate.test.CountReply")
Chunk = message_class("scoregate.test.Chunk")
CollectReply = message_class("scoregate.test.CollectReply")

# method name -> (service, request class, response class, kind); kind is
# unary_unary | unary_stream | stream_unary | stream_stream.
METHODS = {
    "ServerLive": (OIP_SERVICE, ServerLiveRequest, ServerLiveResponse, "unary_unary"),
    "ServerReady": (OIP_SERVICE, ServerReadyRequest, ServerReadyResponse, "unary_unary"),
    "ModelReady": (OIP_SERVICE, ModelReadyRequest, ModelReadyResponse, "unary_unary"),
    "ModelMetadata": (OIP_SERVICE, ModelMetadataRequest, ModelMetadataResponse, "unary_unary"),
    "ModelInfer": (OIP_SERVICE, ModelInferRequest, ModelInferResponse, "unary_unary"),
    "ModelStreamInfer": (OIP_SERVICE, ModelInferRequest, ModelStreamInferResponse, "stream_stream"),
    "Count": (PROBE_SERVICE, CountRequest, CountReply, "unary_stream"),
    "Collect": (PROBE_SERVICE, Chunk, CollectReply, "stream_unary"),
}


def path(method):
    """The HTTP/2 :path of a method, e.g. '/inference.GRPCInferenceService/ModelInfer'."""
    return f"/{METHODS[method][0]}/{method}"


def stub(channel, method):
    """A grpc multi-callable for `method` on `channel` (its kind decides unary/stream)."""
    _, req, resp, kind = METHODS[method]
    return getattr(channel, kind)(path(method), request_serializer=req.SerializeToString,
                                  response_deserializer=resp.FromString)


def infer_request(model_name, rows, id="", raw=False):
    """A ModelInferRequest with one FP32 input 'input-0' of shape [len(rows), len(row)];
    raw=True puts the values in raw_input_contents (little-endian) instead of contents."""
    req = ModelInferRequest(model_name=model_name, id=id)
    width = len(rows[0]) if rows else 0
    t = req.inputs.add(name="input-0", datatype="FP32", shape=[len(rows), width])
    flat = [float(v) for r in rows for v in r]
    if raw:
        req.raw_input_contents.append(struct.pack(f"<{len(flat)}f", *flat))
    else:
        t.contents.fp32_contents.extend(flat)
    return req


def input_rows(req, index=0):
    """The FP32 input `index` of a ModelInferRequest as a list of rows (from contents or raw)."""
    t = req.inputs[index]
    if len(req.raw_input_contents) > index:
        raw = req.raw_input_contents[index]
        flat = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    else:
        flat = list(t.contents.fp32_contents)
    shape = list(t.shape) or [1, len(flat)]
    width = shape[-1] if len(shape) > 1 else len(flat)
    return [flat[i:i + width] for i in range(0, len(flat), width)] if width else []


def output_values(resp, index=0):
    """The FP32 output `index` of a ModelInferResponse as a flat list."""
    return list(resp.outputs[index].contents.fp32_contents)


def grpc_frame(message):
    """A message as gRPC puts it in HTTP/2 DATA: flag byte 0 (uncompressed), 4-byte length, bytes.
    For raw HTTP/2 clients (h2_attack.normal_request) that talk gRPC by hand."""
    data = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(data)) + data


def grpc_unframe(body, cls):
    """The messages of class `cls` in a gRPC HTTP/2 body (uncompressed frames only)."""
    out, i = [], 0
    while i + 5 <= len(body):
        n = struct.unpack(">I", body[i + 1:i + 5])[0]
        out.append(cls.FromString(body[i + 5:i + 5 + n]))
        i += 5 + n
    return out


GRPC_HEADERS = (("content-type", "application/grpc"), ("te", "trailers"))
