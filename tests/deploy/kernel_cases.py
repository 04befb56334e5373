"""Random single-op (or few-op) int8 .tflite models for the kernel tests, built directly as
flatbuffers with TFLM's generated schema object API (ModelT ... Pack), so hundreds of cases
cost milliseconds each instead of a TFLite converter run each.

Every case draws shapes, strides, paddings, dilations, activations and quantization
parameters (random scales and zero points, per-channel and per-tensor) from a seeded rng.
Scales are chosen so outputs land mostly inside the int8 range (a test where everything
saturates would prove little).
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
_DTYPES = {"int8": fb.TensorType.INT8, "int32": fb.TensorType.INT32, "float32": fb.TensorType.FLOAT32}


class ModelBuilder:
    """A tiny TFLite model writer: tensors, constant buffers and builtin ops."""

    def __init__(self) -> None:
        self.tensors: list = []
        self.buffers = [fb.BufferT()]  # buffer 0: the empty sentinel
        self.ops: list = []
        self.opcodes: dict[int, int] = {}

    def tensor(self, shape, dtype="int8", scale=None, zp=None, data=None, axis=0, name=None) -> int:
        t = fb.TensorT()
        t.shape = list(int(d) for d in shape)
        t.type = _DTYPES[dtype]
        t.name = (name or f"t{len(self.tensors)}").encode()
        if data is not None:
            b = fb.BufferT()
            b.data = np.ascontiguousarray(np.asarray(data, dtype=dtype)).tobytes()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zp if zp is not None else np.zeros(len(q.scale), int))]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, name: str, inputs, outputs, options=None) -> None:
        code = getattr(fb.BuiltinOperator, name)
        if code not in self.opcodes:
            self.opcodes[code] = len(self.opcodes)
        o = fb.OperatorT()
        o.opcodeIndex = self.opcodes[code]
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType = getattr(fb.BuiltinOptions, type(options).__name__[:-1])
            o.builtinOptions = options
        self.ops.append(o)

    def build(self, inputs, outputs) -> bytes:
        sg = fb.SubGraphT()
        sg.tensors, sg.operators = self.tensors, self.ops
        sg.inputs, sg.outputs = list(inputs), list(outputs)
        m = fb.ModelT()
        m.version = 3
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.description = b"acdeploy kernel test case"
        codes = []
        for code, _ in sorted(self.opcodes.items(), key=lambda kv: kv[1]):
            oc = fb.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            codes.append(oc)
        m.operatorCodes = codes
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def _opts(cls, **kw):
    o = getattr(fb, cls)()
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def _act_code(name: str) -> int:
    return getattr(fb.ActivationFunctionType, name)


def _pad_code(same: bool) -> int:
    return fb.Padding.SAME if same else fb.Padding.VALID


def _logu(rng, lo, hi) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def _zp(rng) -> int:
    return int(rng.integers(-128, 128))


def _out_size(n: int, k: int, s: int, d: int, same: bool) -> int:
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if same else (n - eff) // s + 1


def _weights(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _acc_out_scale(rng, in_s: float, w_s: float, taps: int) -> float:
    # A random sum of `taps` products of int8-ish values has std ~ 60*60*sqrt(taps).
    return float(np.float32(in_s * w_s * 3600 * np.sqrt(max(taps, 1)) / 40 * rng.uniform(0.4, 2.5)))


def _fast_path_geometry(rng, depthwise: bool):
    """Shapes aimed at the specialised DSP paths: 1x1 pointwise (adjacent-pixel core with the
    folded input offset, odd pixel counts, stride 2), the gathered-taps path for 1-3 input
    channels (stem-like 3x3 stride 2 SAME: padded borders) and depthwise 3x3 (interior fast
    path and its borders); channel counts not a multiple of 4 or 2."""
    b = int(rng.choice([1, 1, 2]))
    ih, iw = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    same = bool(rng.random() < 0.6)
    if depthwise:
        k, s, ic = 3, int(rng.choice([1, 1, 2])), int(rng.integers(1, 14))
    elif rng.random() < 0.6:
        k, s, ic = 1, int(rng.choice([1, 1, 1, 2])), int(rng.integers(1, 41))
    else:
        k, s, ic = int(rng.choice([2, 3, 3, 5])), int(rng.choice([1, 2, 2])), int(rng.integers(1, 4))
    return b, ih, iw, k, k, s, s, 1, 1, same, ic


def conv_case(rng, depthwise: bool = False, fast_paths: bool = False, wide: bool = False):
    """One CONV_2D or DEPTHWISE_CONV_2D with random geometry and quantization (wide: 16-40 input
    channels, the Helium depthwise's 16-channel steps)."""
    while True:
        if fast_paths:
            b, ih, iw, kh, kw, sh, sw, dh, dw, same, ic = _fast_path_geometry(rng, depthwise)
            if wide:
                ic = int(rng.integers(16, 41))
        else:
            b = int(rng.choice([1, 1, 2]))
            ih, iw = int(rng.integers(1, 10)), int(rng.integers(1, 10))
            kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
            sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            dh, dw = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
            same = bool(rng.random() < 0.5)
            ic = int(rng.integers(1, 10))
        oh, ow = _out_size(ih, kh, sh, dh, same), _out_size(iw, kw, sw, dw, same)
        if oh >= 1 and ow >= 1:
            break
    if depthwise:
        mult = 1 if fast_paths else int(rng.choice([1, 1, 1, 2, 3]))
        oc = ic * mult
        wshape, axis, fic = (1, kh, kw, oc), 3, 1
    else:
        oc = int(rng.integers(1, 10 if not fast_paths else 20))
        wshape, axis, fic = (oc, kh, kw, ic), 0, ic
    act = str(rng.choice(ACTIVATIONS))
    in_s, in_zp = _logu(rng, 1e-3, 0.5), _zp(rng)
    if fast_paths and rng.random() < 0.4:
        in_zp = int(rng.choice([-128, 127]))  # the largest |input_offset|
    per_channel = bool(rng.random() < 0.8)
    w_s = np.array([_logu(rng, 1e-3, 5e-2) for _ in range(oc if per_channel else 1)], np.float32)
    out_s = _acc_out_scale(rng, in_s, float(np.mean(w_s)), kh * kw * fic)
    if fast_paths and rng.random() < 0.25:
        # Multipliers of 1/4 and above: the exact requantisation instead of ac_requant_fast.
        out_s = float(np.float32(out_s / 60))
    m = ModelBuilder()
    x = m.tensor((b, ih, iw, ic), scale=in_s, zp=in_zp, name="input")
    w = m.tensor(wshape, scale=w_s, zp=np.zeros(w_s.size, int), data=_weights(rng, wshape), axis=axis, name="filter")
    bias_scale = (np.float32(in_s) * w_s).astype(np.float32)
    bias = m.tensor((oc,), "int32", scale=bias_scale, zp=np.zeros(w_s.size, int),
                    data=rng.integers(-20000, 20000, size=oc).astype(np.int32), name="bias") if depthwise or rng.random() < 0.9 else -1
    y = m.tensor((b, oh, ow, oc), scale=out_s, zp=_zp(rng), name="output")
    if depthwise:
        opts = _opts("DepthwiseConv2DOptionsT", padding=_pad_code(same), strideW=sw, strideH=sh, depthMultiplier=oc // ic,
                     fusedActivationFunction=_act_code(act), dilationWFactor=dw, dilationHFactor=dh)
        m.op("DEPTHWISE_CONV_2D", [x, w, bias], [y], opts)
    else:
        opts = _opts("Conv2DOptionsT", padding=_pad_code(same), strideW=sw, strideH=sh,
                     fusedActivationFunction=_act_code(act), dilationWFactor=dw, dilationHFactor=dh)
        m.op("CONV_2D", [x, w, bias], [y], opts)
    return m.build([x], [y])


def grouped_conv_case(rng):
    """CONV_2D with grouped filters (in_c = groups x the filter's depth, out_c a multiple of the
    groups), random geometry, dilation and quantization."""
    while True:
        ih, iw = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        same = bool(rng.random() < 0.5)
        oh, ow = _out_size(ih, kh, sh, dh, same), _out_size(iw, kw, sw, dw, same)
        if oh >= 1 and ow >= 1:
            break
    groups, fic, per_group = int(rng.integers(2, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    ic, oc = groups * fic, groups * per_group
    in_s, in_zp = _logu(rng, 1e-3, 0.5), _zp(rng)
    w_s = np.array([_logu(rng, 1e-3, 5e-2) for _ in range(oc)], np.float32)
    out_s = _acc_out_scale(rng, in_s, float(np.mean(w_s)), kh * kw * fic)
    m = ModelBuilder()
    x = m.tensor((1, ih, iw, ic), scale=in_s, zp=in_zp, name="input")
    w = m.tensor((oc, kh, kw, fic), scale=w_s, zp=np.zeros(oc, int), data=_weights(rng, (oc, kh, kw, fic)), name="filter")
    bias = m.tensor((oc,), "int32", scale=(np.float32(in_s) * w_s).astype(np.float32), zp=np.zeros(oc, int),
                    data=rng.integers(-20000, 20000, size=oc).astype(np.int32), name="bias")
    y = m.tensor((1, oh, ow, oc), scale=out_s, zp=_zp(rng), name="output")
    m.op("CONV_2D", [x, w, bias], [y], _opts("Conv2DOptionsT", padding=_pad_code(same), strideW=sw, strideH=sh,
                                             fusedActivationFunction=_act_code(str(rng.choice(ACTIVATIONS))),
                                             dilationWFactor=dw, dilationHFactor=dh))
    return m.build([x], [y])


def fc_case(rng):
    rows, depth, out = int(rng.integers(1, 4)), int(rng.integers(1, 41)), int(rng.integers(1, 21))
    per_channel = bool(rng.random() < 0.4)
    in_s, in_zp = _logu(rng, 1e-3, 0.5), _zp(rng)
    w_s = np.array([_logu(rng, 1e-3, 5e-2) for _ in range(out if per_channel else 1)], np.float32)
    out_s = _acc_out_scale(rng, in_s, float(np.mean(w_s)), depth)
    act = str(rng.choice(ACTIVATIONS))
    m = ModelBuilder()
    x = m.tensor((rows, depth), scale=in_s, zp=in_zp, name="input")
    w = m.tensor((out, depth), scale=w_s, zp=np.zeros(w_s.size, int), data=_weights(rng, (out, depth)), name="weights")
    bias = m.tensor((out,), "int32", scale=(np.float32(in_s) * w_s).astype(np.float32), zp=np.zeros(w_s.size, int),
                    data=rng.integers(-20000, 20000, size=out).astype(np.int32), name="bias") if rng.random() < 0.9 else -1
    y = m.tensor((rows, out), scale=out_s, zp=_zp(rng), name="output")
    m.op("FULLY_CONNECTED", [x, w, bias], [y], _opts("FullyConnectedOptionsT", fusedActivationFunction=_act_code(act)))
    return m.build([x], [y])


def pool_case(rng):
    while True:
        b, ih, iw, c = int(rng.choice([1, 2])), int(rng.integers(1, 10)), int(rng.integers(1, 10)), int(rng.integers(1, 9))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        same = bool(rng.random() < 0.5)
        oh, ow = _out_size(ih, kh, sh, 1, same), _out_size(iw, kw, sw, 1, same)
        if oh >= 1 and ow >= 1:
            break
    s, zp = _logu(rng, 1e-2, 0.2), _zp(rng)
    op = "MAX_POOL_2D" if rng.random() < 0.5 else "AVERAGE_POOL_2D"
    m = ModelBuilder()
    x = m.tensor((b, ih, iw, c), scale=s, zp=zp, name="input")
    y = m.tensor((b, oh, ow, c), scale=s, zp=zp, name="output")
    m.op(op, [x], [y], _opts("Pool2DOptionsT", padding=_pad_code(same), strideW=sw, strideH=sh, filterWidth=kw,
                            filterHeight=kh, fusedActivationFunction=_act_code(str(rng.choice(ACTIVATIONS)))))
    return m.build([x], [y])


def mean_case(rng):
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 9))]
    choices = [(1, 2), (1, 2), (1, 2), (1,), (2,), (3,), (1, 2, 3), (0, 3)]
    axes = choices[int(rng.integers(len(choices)))]
    keep = bool(rng.random() < 0.5)
    out_shape = [1 if d in axes else n for d, n in enumerate(shape)] if keep else [n for d, n in enumerate(shape) if d not in axes]
    s, zp = _logu(rng, 1e-2, 0.2), _zp(rng)
    same = rng.random() < 0.3
    os_, ozp = (s, zp) if same else (float(np.float32(s * rng.uniform(0.3, 1.5))), _zp(rng))
    m = ModelBuilder()
    x = m.tensor(shape, scale=s, zp=zp, name="input")
    a = m.tensor((len(axes),), "int32", data=np.array(axes, np.int32), name="axes")
    y = m.tensor(out_shape, scale=os_, zp=ozp, name="output")
    m.op("MEAN", [x, a], [y], _opts("ReducerOptionsT", keepDims=keep))
    return m.build([x], [y])


def add_case(rng):
    """ADD of the input and either a constant (same shape, channel or scalar broadcast) or a
    1x1 depthwise conv of the input (two activations in the arena, different quantization)."""
    shape = (1, int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 9)))
    s1, z1 = _logu(rng, 1e-2, 0.2), _zp(rng)
    s2, z2 = _logu(rng, 1e-2, 0.2), _zp(rng)
    so = float(np.float32((s1 + s2) * rng.uniform(0.6, 1.6)))
    m = ModelBuilder()
    x = m.tensor(shape, scale=s1, zp=z1, name="input")
    kind = int(rng.integers(4))
    if kind == 3:
        c = shape[3]
        ws = np.full(c, 0.01, np.float32)
        w = m.tensor((1, 1, 1, c), scale=ws, zp=np.zeros(c, int), data=_weights(rng, (1, 1, 1, c)), axis=3, name="dw_filter")
        bias = m.tensor((c,), "int32", scale=(np.float32(s1) * ws).astype(np.float32), zp=np.zeros(c, int),
                        data=np.zeros(c, np.int32), name="dw_bias")
        other = m.tensor(shape, scale=s2, zp=z2, name="dw_out")
        m.op("DEPTHWISE_CONV_2D", [x, w, bias], [other], _opts("DepthwiseConv2DOptionsT", padding=fb.Padding.VALID,
                                                             strideW=1, strideH=1, depthMultiplier=1, dilationWFactor=1, dilationHFactor=1))
    else:
        cshape = [shape, (1, 1, 1, shape[3]), ()][kind]
        other = m.tensor(cshape, scale=s2, zp=z2, data=_weights(rng, cshape), name="constant")
    y = m.tensor(shape, scale=so, zp=_zp(rng), name="output")
    ins = [x, other] if rng.random() < 0.5 else [other, x]
    m.op("ADD", ins, [y], _opts("AddOptionsT", fusedActivationFunction=_act_code(str(rng.choice(ACTIVATIONS)))))
    return m.build([x], [y])


def softmax_case(rng):
    rows, depth = int(rng.integers(1, 4)), int(rng.integers(1, 49))  # > 32: the uncached exp path
    m = ModelBuilder()
    x = m.tensor((rows, depth), scale=_logu(rng, 1e-2, 0.5), zp=_zp(rng), name="input")
    y = m.tensor((rows, depth), scale=1.0 / 256, zp=-128, name="output")
    m.op("SOFTMAX", [x], [y], _opts("SoftmaxOptionsT", beta=float(rng.choice([1.0, 1.0, 0.5, 2.0]))))
    return m.build([x], [y])


def pad_case(rng):
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5))]
    pads = rng.integers(0, 3, size=(4, 2)).astype(np.int32)
    out = [n + int(p.sum()) for n, p in zip(shape, pads, strict=True)]
    s, zp = _logu(rng, 1e-2, 0.2), _zp(rng)
    m = ModelBuilder()
    x = m.tensor(shape, scale=s, zp=zp, name="input")
    p = m.tensor((4, 2), "int32", data=pads, name="paddings")
    y = m.tensor(out, scale=s, zp=zp, name="output")
    if rng.random() < 0.5:
        m.op("PAD", [x, p], [y], _opts("PadOptionsT"))
    else:
        v = m.tensor((1,), scale=s, zp=zp, data=np.array([_zp(rng)], np.int8), name="pad_value")
        m.op("PADV2", [x, p, v], [y], _opts("PadV2OptionsT"))
    return m.build([x], [y])


def concat_case(rng):
    shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))]
    axis = int(rng.integers(-4, 4))
    ax = axis % 4
    s, zp = _logu(rng, 1e-2, 0.2), _zp(rng)
    m = ModelBuilder()
    x = m.tensor(shape, scale=s, zp=zp, name="input")
    ins = [x]
    for _ in range(int(rng.integers(1, 3))):
        cs = list(shape)
        cs[ax] = int(rng.integers(1, 4))
        ins.append(m.tensor(cs, scale=s, zp=zp, data=_weights(rng, cs), name=f"const{len(ins)}"))
        if rng.random() < 0.5:
            ins.append(x)
    rng.shuffle(ins)
    out = list(shape)
    out[ax] = sum(m.tensors[i].shape[ax] for i in ins)
    y = m.tensor(out, scale=s, zp=zp, name="output")
    m.op("CONCATENATION", ins, [y], _opts("ConcatenationOptionsT", axis=axis))
    return m.build([x], [y])


def chain_case(rng, float_io: bool = False):
    """QUANTIZE? -> CONV 3x3 -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX -> DEQUANTIZE?: several
    layers sharing the arena, a no-copy reshape and (optionally) float I/O."""
    h, w, c, oc, classes = int(rng.integers(3, 8)), int(rng.integers(3, 8)), int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 11))
    m = ModelBuilder()
    in_s, in_zp = _logu(rng, 1e-2, 0.1), _zp(rng)
    xf = m.tensor((1, h, w, c), "float32", name="float_input") if float_io else None
    x = m.tensor((1, h, w, c), scale=in_s, zp=in_zp, name="input_int8")
    if float_io:
        m.op("QUANTIZE", [xf], [x], _opts("QuantizeOptionsT"))
    cs = np.array([_logu(rng, 5e-3, 3e-2) for _ in range(oc)], np.float32)
    cw = m.tensor((oc, 3, 3, c), scale=cs, zp=np.zeros(oc, int), data=_weights(rng, (oc, 3, 3, c)), name="conv_w")
    cb = m.tensor((oc,), "int32", scale=(np.float32(in_s) * cs).astype(np.float32), zp=np.zeros(oc, int),
                  data=rng.integers(-5000, 5000, oc).astype(np.int32), name="conv_b")
    conv_s = _acc_out_scale(rng, in_s, float(cs.mean()), 9 * c)
    y1 = m.tensor((1, h, w, oc), scale=conv_s, zp=-128, name="conv_out")
    m.op("CONV_2D", [x, cw, cb], [y1], _opts("Conv2DOptionsT", padding=fb.Padding.SAME, strideW=1, strideH=1,
                                             fusedActivationFunction=_act_code("RELU"), dilationWFactor=1, dilationHFactor=1))
    shp = m.tensor((2,), "int32", data=np.array([1, h * w * oc], np.int32), name="shape")
    y2 = m.tensor((1, h * w * oc), scale=conv_s, zp=-128, name="flat")
    m.op("RESHAPE", [y1, shp], [y2], _opts("ReshapeOptionsT", newShape=[1, h * w * oc]))
    fs = _logu(rng, 5e-3, 3e-2)
    fw = m.tensor((classes, h * w * oc), scale=fs, zp=0, data=_weights(rng, (classes, h * w * oc)), name="fc_w")
    fb_ = m.tensor((classes,), "int32", scale=float(np.float32(conv_s) * np.float32(fs)), zp=0,
                   data=rng.integers(-5000, 5000, classes).astype(np.int32), name="fc_b")
    logit_s = _acc_out_scale(rng, conv_s, fs, h * w * oc)
    y3 = m.tensor((1, classes), scale=logit_s, zp=_zp(rng), name="logits")
    m.op("FULLY_CONNECTED", [y2, fw, fb_], [y3], _opts("FullyConnectedOptionsT"))
    y4 = m.tensor((1, classes), scale=1.0 / 256, zp=-128, name="probs")
    m.op("SOFTMAX", [y3], [y4], _opts("SoftmaxOptionsT", beta=1.0))
    if float_io:
        yf = m.tensor((1, classes), "float32", name="float_probs")
        m.op("DEQUANTIZE", [y4], [yf], _opts("DequantizeOptionsT"))
        return m.build([xf], [yf])
    return m.build([x], [y4])


FAMILIES = {
    "conv": lambda rng: conv_case(rng, depthwise=False),
    "depthwise": lambda rng: conv_case(rng, depthwise=True),
    "conv_fast": lambda rng: conv_case(rng, depthwise=False, fast_paths=True),
    "conv_grouped": grouped_conv_case,
    "depthwise_fast": lambda rng: conv_case(rng, depthwise=True, fast_paths=True),
    "depthwise_wide": lambda rng: conv_case(rng, depthwise=True, fast_paths=True, wide=True),
    "fully_connected": fc_case,
    "pool": pool_case,
    "mean": mean_case,
    "add": add_case,
    "softmax": softmax_case,
    "pad": pad_case,
    "concat": concat_case,
    "chain": lambda rng: chain_case(rng, float_io=False),
    "float_io": lambda rng: chain_case(rng, float_io=True),
}


# Each family's rng stream index: the first families in sorted order, later ones appended, so a
# new family leaves every existing case as it was.
_ADDED_FAMILIES = ("conv_grouped", "depthwise_wide")
_STREAM = {f: k for k, f in enumerate([*sorted(set(FAMILIES) - set(_ADDED_FAMILIES)), *_ADDED_FAMILIES])}


def cases(family: str, n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng([seed, _STREAM[family]])
    return [FAMILIES[family](rng) for _ in range(n)]


def prune(model: bytes, sparsity: float, seed: int = 0) -> bytes:
    """The model with the smallest-magnitude `sparsity` share of every CONV_2D / FULLY_CONNECTED
    filter set to 0 (per layer, ties broken at random), as magnitude pruning of int8 weights."""
    m = fb.ModelT.InitFromPackedBuf(model, 0)
    rng = np.random.default_rng(seed)
    codes = {i: oc.builtinCode for i, oc in enumerate(m.operatorCodes)}
    sg = m.subgraphs[0]
    for op in sg.operators:
        if codes[op.opcodeIndex] not in (fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.FULLY_CONNECTED):
            continue
        buf = m.buffers[sg.tensors[op.inputs[1]].buffer]
        w = np.frombuffer(bytes(np.asarray(buf.data, np.uint8)), np.int8).copy()
        k = int(round(sparsity * w.size))
        order = np.lexsort((rng.random(w.size), np.abs(w.astype(np.int32))))
        w[order[:k]] = 0
        buf.data = w.tobytes()
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def wide_fc_case(rng):
    """FULLY_CONNECTED with an input depth over 255 (the sparse format's bridged gaps)."""
    rows, depth, out = int(rng.integers(1, 3)), int(rng.integers(256, 700)), int(rng.integers(1, 12))
    in_s, in_zp = _logu(rng, 1e-3, 0.5), _zp(rng)
    w_s = _logu(rng, 1e-3, 5e-2)
    m = ModelBuilder()
    x = m.tensor((rows, depth), scale=in_s, zp=in_zp, name="input")
    w = m.tensor((out, depth), scale=w_s, zp=0, data=_weights(rng, (out, depth)), name="weights")
    bias = m.tensor((out,), "int32", scale=float(np.float32(in_s) * np.float32(w_s)), zp=0,
                    data=rng.integers(-20000, 20000, size=out).astype(np.int32), name="bias")
    y = m.tensor((rows, out), scale=_acc_out_scale(rng, in_s, w_s, depth), zp=_zp(rng), name="output")
    m.op("FULLY_CONNECTED", [x, w, bias], [y], _opts("FullyConnectedOptionsT",
                                                     fusedActivationFunction=_act_code(str(rng.choice(ACTIVATIONS)))))
    return m.build([x], [y])
