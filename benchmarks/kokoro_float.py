"""Experiment: the Kokoro int8 graph with its convolutions dequantized to float32.

    python -m benchmarks.kokoro_float [--rounds 4] [--out /tmp/ttsfast/kokoro-f32conv.onnx]

The int8 Kokoro ONNX file quantizes every convolution dynamically: per call the input is
quantized (``DynamicQuantizeLinear``), convolved in integers (``ConvInteger``), the bias is
quantized with the call's scale, and the result is cast back and rescaled. ``ConvInteger``
is most of the model's time (56–66 % in onnxruntime's profiler on the 2-core x86-64).
:func:`dequantize_convs` rewrites each such chain into one float ``Conv`` with the weights
``(W_q - zero_point) * scale`` and the float bias, and drops what nothing reads any more
(87 convolutions; 256 MB instead of 92). The benchmark then runs both graphs interleaved
on the same inputs and reports process CPU time per audio second (less sensitive to other
load than wall time) and how close the float graph's log-mel spectrogram is to the int8 one.

Result (BENCHMARKS.md): on this CPU (AVX-512 VNNI, fast integer kernels) the float graph
took about 21 % *more* CPU time, so the engine keeps the int8 graph; this tool stays to
repeat the check on other hardware.

The ONNX protobuf is read and written with a minimal schema built here from
``google.protobuf`` (a dependency of onnxruntime), not with the ``onnx`` package: only the
fields this rewrite touches are declared, every other field passes through as an unknown
field, byte for byte. The output is deterministic (same bytes, same sha256, every run).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["ConversionError", "dequantize_convs", "main", "parse_model"]

_UINT8, _INT8, _FLOAT = 2, 3, 1  # TensorProto.DataType values used here
_NP = {_UINT8: np.uint8, _INT8: np.int8, _FLOAT: np.float32}


class ConversionError(ValueError):
    """The graph does not have the dynamic-quantization pattern this rewrite expects."""


def _schema() -> dict[str, Any]:
    """Message classes for the subset of onnx.proto (proto2, package ``onnx``) used here."""
    fdp = descriptor_pb2.FileDescriptorProto(name="tingshuo_onnx_min.proto", package="onnx_min")
    fdp.syntax = "proto2"
    F = descriptor_pb2.FieldDescriptorProto
    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED

    def msg(name: str, fields: Iterable[tuple[str, int, int, int, str]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, label, ftype, type_name in fields:
            f = m.field.add(name=fname, number=number, label=label, type=ftype)
            if type_name:
                f.type_name = f".onnx_min.{type_name}"

    msg(
        "TensorProto",
        [
            ("dims", 1, rep, F.TYPE_INT64, ""),
            ("data_type", 2, opt, F.TYPE_INT32, ""),
            ("float_data", 4, rep, F.TYPE_FLOAT, ""),
            ("int32_data", 5, rep, F.TYPE_INT32, ""),
            ("name", 8, opt, F.TYPE_STRING, ""),
            ("raw_data", 9, opt, F.TYPE_BYTES, ""),
        ],
    )
    msg("AttributeProto", [("name", 1, opt, F.TYPE_STRING, "")])
    msg(
        "NodeProto",
        [
            ("input", 1, rep, F.TYPE_STRING, ""),
            ("output", 2, rep, F.TYPE_STRING, ""),
            ("name", 3, opt, F.TYPE_STRING, ""),
            ("op_type", 4, opt, F.TYPE_STRING, ""),
            ("attribute", 5, rep, F.TYPE_MESSAGE, "AttributeProto"),
            ("domain", 7, opt, F.TYPE_STRING, ""),
        ],
    )
    msg("ValueInfoProto", [("name", 1, opt, F.TYPE_STRING, "")])
    msg(
        "GraphProto",
        [
            ("node", 1, rep, F.TYPE_MESSAGE, "NodeProto"),
            ("initializer", 5, rep, F.TYPE_MESSAGE, "TensorProto"),
            ("input", 11, rep, F.TYPE_MESSAGE, "ValueInfoProto"),
            ("output", 12, rep, F.TYPE_MESSAGE, "ValueInfoProto"),
        ],
    )
    msg("ModelProto", [("graph", 7, opt, F.TYPE_MESSAGE, "GraphProto")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"onnx_min.{name}"))
        for name in ("ModelProto", "TensorProto", "NodeProto")
    }


_CLASSES: dict[str, Any] = {}


def _cls(name: str) -> Any:
    if not _CLASSES:
        _CLASSES.update(_schema())
    return _CLASSES[name]


def parse_model(data: bytes) -> Any:
    """An ONNX ``ModelProto`` (minimal schema) from its serialized bytes."""
    model = _cls("ModelProto")()
    model.ParseFromString(data)
    return model


def _array(t: Any) -> np.ndarray:
    """An initializer as a numpy array (raw_data, or the typed repeated fields)."""
    dtype = _NP.get(t.data_type)
    if dtype is None:
        raise ConversionError(f"initializer {t.name!r} has unsupported type {t.data_type}")
    if t.raw_data:
        arr = np.frombuffer(t.raw_data, dtype=dtype)
    elif t.data_type == _FLOAT:
        arr = np.asarray(t.float_data, dtype=np.float32)
    else:
        arr = np.asarray(t.int32_data).astype(dtype)
    return arr.reshape(tuple(t.dims))


def _tensor(name: str, arr: np.ndarray) -> Any:
    t = _cls("TensorProto")(name=name, data_type=_FLOAT)
    t.dims.extend(arr.shape)
    t.raw_data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    return t


def dequantize_convs(data: bytes) -> tuple[bytes, int]:
    """The serialized model with every dynamically quantized convolution made float.

    Returns (new model bytes, number of convolutions rewritten). Raises
    :class:`ConversionError` when a ``ConvInteger`` does not fit the expected pattern
    (DynamicQuantizeLinear input, uint8/int8 weight initializer with scalar scale and zero
    point, optional int32 bias add, Cast, Mul by the combined scale).
    """
    model = parse_model(data)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = collections.defaultdict(list)
    for n in graph.node:
        for i in n.input:
            consumers[i].append(n)

    def only_consumer(name: str, op: str) -> Any:
        users = consumers.get(name, [])
        if len(users) != 1 or users[0].op_type != op:
            raise ConversionError(f"{name!r} should feed exactly one {op}")
        return users[0]

    def float_bias(name: str) -> str:
        """The float initializer behind Reshape(Cast(Floor(Div(bias, scale))))."""
        node = producer.get(name)
        for op in ("Reshape", "Cast", "Floor", "Div"):
            if node is None or node.op_type != op:
                raise ConversionError(f"bias {name!r}: expected {op}")
            if op == "Div":
                return str(node.input[0])
            node = producer.get(node.input[0])
        raise AssertionError("unreachable")

    replaced: dict[int, Any] = {}  # id(ConvInteger node) -> its float Conv
    new_inits = []
    for n in graph.node:
        if n.op_type != "ConvInteger":
            continue
        if len(n.input) != 4:
            raise ConversionError(f"{n.name}: ConvInteger with {len(n.input)} inputs")
        quant = producer.get(n.input[0])
        if quant is None or quant.op_type != "DynamicQuantizeLinear":
            raise ConversionError(f"{n.name}: input is not dynamically quantized")
        w_name, wzp_name = n.input[1], n.input[3]
        base = w_name.removesuffix("_quantized")
        if w_name not in inits or wzp_name not in inits or f"{base}_scale" not in inits:
            raise ConversionError(f"{n.name}: weight, scale or zero point is not an initializer")
        w_q = _array(inits[w_name]).astype(np.float32)
        zp = _array(inits[wzp_name]).astype(np.float32)
        scale = _array(inits[f"{base}_scale"]).astype(np.float32)
        if zp.size != 1 or scale.size != 1:
            raise ConversionError(f"{n.name}: per-channel quantization is not handled")
        weight = (w_q - zp.reshape(())) * scale.reshape(())
        nxt = consumers.get(n.output[0], [])
        bias = None
        if len(nxt) == 1 and nxt[0].op_type == "Add":
            bias = float_bias(nxt[0].input[1])
            cast = only_consumer(nxt[0].output[0], "Cast")
        else:
            cast = only_consumer(n.output[0], "Cast")
        mul = only_consumer(cast.output[0], "Mul")
        if bias is not None and bias not in inits:
            raise ConversionError(f"{n.name}: bias {bias!r} is not an initializer")
        w_float = f"{base}_dequantized"
        new_inits.append(_tensor(w_float, weight))
        conv = _cls("NodeProto")(
            name=n.name.removesuffix("_quant") or f"{base}_conv",
            op_type="Conv",
        )
        conv.input.extend([quant.input[0], w_float] + ([bias] if bias else []))
        conv.output.append(mul.output[0])
        for attr in n.attribute:
            conv.attribute.add().CopyFrom(attr)
        replaced[id(n)] = conv
        mul.ClearField("output")  # the Conv now produces this value
        mul.output.append(f"{mul.name}_unused")

    if not replaced:
        raise ConversionError("no ConvInteger in the graph")
    nodes = [replaced.get(id(n), n) for n in graph.node]
    graph.initializer.extend(new_inits)
    _prune(graph, nodes)
    return model.SerializeToString(deterministic=True), len(replaced)


def _prune(graph: Any, nodes: list[Any]) -> None:
    """Keep only the nodes a graph output depends on, and the initializers they read."""
    needed = {o.name for o in graph.output}
    keep: list[Any] = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output if o):
            keep.append(n)
            needed.update(i for i in n.input if i)
    keep.reverse()
    node_copies = [type(n)() for n in keep]
    for src, dst in zip(keep, node_copies, strict=True):
        dst.CopyFrom(src)
    graph.ClearField("node")
    graph.node.extend(node_copies)
    used = [t for t in graph.initializer if t.name in needed]
    init_copies = [type(t)() for t in used]
    for src, dst in zip(used, init_copies, strict=True):
        dst.CopyFrom(src)
    graph.ClearField("initializer")
    graph.initializer.extend(init_copies)


def _log_mel(samples: np.ndarray, sr: int = 24000) -> np.ndarray:
    """A plain log power spectrogram on 64 mel-spaced bands (for a similarity figure)."""
    n_fft, hop = 1024, 256
    frames = np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = 2595 * np.log10(1 + np.fft.rfftfreq(n_fft, 1 / sr) / 700)
    edges = np.linspace(mel[1], mel[-1], 65)
    bands = np.stack(
        [
            power[:, (mel >= lo) & (mel < hi)].sum(axis=1)
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ],
        1,
    )
    return np.log10(bands + 1e-10)


def main(argv: list[str] | None = None) -> None:
    """Convert the assembled int8 model and compare both graphs (see module docstring)."""
    import argparse
    import hashlib
    import os
    import time
    from pathlib import Path

    import onnxruntime as ort

    from tingshuo.engine.config import cache_root, load_config
    from tingshuo.tts.factory import build_synthesizer
    from tingshuo.tts.kokoro import session_options
    from tingshuo.tts.kokoro_g2p import phonemize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", default="/tmp/ttsfast/kokoro-f32conv.onnx")
    args = ap.parse_args(argv)
    config = load_config(overrides=["tts.cache.enabled=false"])
    synth = build_synthesizer(config.tts, cache_root(config), "kokoro")
    src = Path(synth.model_path)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    data, n = dequantize_convs(src.read_bytes())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(
        f"converted {n} convolutions in {time.perf_counter() - t0:.1f} s: {out} "
        f"({len(data) / 1e6:.0f} MB, sha256 {hashlib.sha256(data).hexdigest()})"
    )
    threads = config.tts.kokoro.threads
    sessions = {
        name: ort.InferenceSession(
            str(p), session_options(threads), providers=["CPUExecutionProvider"]
        )
        for name, p in (("int8", src), ("float32 conv", out))
    }
    texts = [
        "您好，请问有什么可以帮您？",
        "我们一起去公园散步吧，顺便买点水果回家。",
        "今天的天气真不错，我们一起去公园散步吧。明天可能会下雨，记得带伞。",
    ]
    voice = synth.default_voice
    feeds = []
    for text in texts:
        ids, _ = synth.tokens(phonemize(text))  # type: ignore[attr-defined]
        feeds.append(
            {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": synth._voices.style_for(voice, len(ids)),  # type: ignore[attr-defined]
                "speed": np.array([config.tts.kokoro.speed], dtype=np.float32),
            }
        )
    ref = [sessions["int8"].run(None, f)[0].ravel() for f in feeds]
    for text, f, a in zip(texts, feeds, ref, strict=True):
        b = sessions["float32 conv"].run(None, f)[0].ravel()
        ma, mb = _log_mel(a), _log_mel(b)
        corr = float(np.corrcoef(ma.ravel(), mb.ravel())[0, 1])
        print(
            f"{text}: {len(a) / 24000:.2f} s vs {len(b) / 24000:.2f} s, log-mel correlation {corr:.3f}"
        )
    audio = sum(len(a) for a in ref) / 24000
    cpu = dict.fromkeys(sessions, 0.0)
    wall = dict.fromkeys(sessions, 0.0)
    for r in range(args.rounds):
        for f in feeds:  # interleaved per input: both graphs see the same load
            for name, sess in sessions.items():
                t, c = time.perf_counter(), time.process_time()
                sess.run(None, f)
                wall[name] += time.perf_counter() - t
                cpu[name] += time.process_time() - c
        print(
            f"round {r + 1} (load {os.getloadavg()[0]:.2f}): CPU s per audio s "
            + ", ".join(f"{k} {v / (r + 1) / audio:.3f}" for k, v in cpu.items())
            + "; wall RTF "
            + ", ".join(f"{k} {v / (r + 1) / audio:.3f}" for k, v in wall.items()),
            flush=True,
        )


if __name__ == "__main__":
    main()
