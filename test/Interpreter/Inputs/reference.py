"""Independent pure-Python references for the interpreter tests.

Reads the arrays `seqc run -o DIR` wrote (inputs, params, outputs, final
states) and recomputes the model's outputs with plain loops written from the
papers' formulas, not from the interpreter's code. Exits 1 with a message when
any value differs by more than 1e-9 (both are float64 on identical inputs).

usage: reference.py MODEL DIR
"""
import ast
import math
import struct
import sys


def load(directory, name):
    with open(f"{directory}/{name}.npy", "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", "not an npy file"
    hlen = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10:10 + hlen].decode())
    assert header["descr"] == "<f8" and not header["fortran_order"]
    shape = tuple(header["shape"])
    n = 1
    for d in shape:
        n *= d
    flat = list(struct.unpack(f"<{n}d", data[10 + hlen:10 + hlen + 8 * n]))
    return shape, flat


def nest(shape, flat):
    """Flat row-major list -> nested lists of `shape`."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat[:]
    step = len(flat) // shape[0]
    return [nest(shape[1:], flat[i * step:(i + 1) * step]) for i in range(shape[0])]


def arr(directory, name):
    shape, flat = load(directory, name)
    return nest(shape, flat)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def matvec(W, x):
    return [sum(w * xi for w, xi in zip(row, x)) for row in W]


def compare(got, want, what):
    if isinstance(want, list):
        assert len(got) == len(want), f"{what}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            compare(g, w, f"{what}[{i}]")
        return
    if not (abs(got - want) <= 1e-9 * (1 + abs(want))):
        print(f"MISMATCH {what}: interpreter {got!r}, reference {want!r}")
        sys.exit(1)


def check_gru(d):
    # minGRU with a non-zero initial state (h = 0.5) and a bias read through a
    # broadcast scalar: h = (1 - z) h + z (Wh x + c).
    x, Wz, Wh, y = arr(d, "x"), arr(d, "Wz"), arr(d, "Wh"), arr(d, "y")
    hT = arr(d, "final_h")
    for b in range(len(x)):
        h = [0.5] * len(Wz)
        for t in range(len(x[b])):
            z = [sigmoid(v) for v in matvec(Wz, x[b][t])]
            hc = [v + 2.0 for v in matvec(Wh, x[b][t])]
            h = [(1 - zi) * hi + zi * ci for zi, hi, ci in zip(z, h, hc)]
            compare(y[b][t], h, f"y[{b}][{t}]")
        compare(hT[b], h, f"final_h[{b}]")


def check_elman(d):
    # Dense recurrence; the output reads the state before and after its update.
    x, Wx, Wh = arr(d, "x"), arr(d, "Wx"), arr(d, "Wh")
    y, before = arr(d, "y"), arr(d, "before")
    for b in range(len(x)):
        h = [0.0] * len(Wh)
        for t in range(len(x[b])):
            compare(before[b][t], h, f"before[{b}][{t}]")
            h = [math.tanh(a + c) for a, c in zip(matvec(Wx, x[b][t]), matvec(Wh, h))]
            compare(y[b][t], h, f"y[{b}][{t}]")


def check_attention(d):
    # Per head: softmax over the last W steps of scale * q.k, scale 1/sqrt(Dk).
    q, k, v = arr(d, "q"), arr(d, "k"), arr(d, "v")
    o, ow = arr(d, "o"), arr(d, "ow")
    window = 3
    for b in range(len(q)):
        T = len(q[b])
        for t in range(T):
            for head in range(len(q[b][t])):
                dk = len(q[b][t][head])
                for out, first in ((o, 0), (ow, max(0, t - window + 1))):
                    s = [sum(qa * ka for qa, ka in zip(q[b][t][head], k[b][i][head])) / math.sqrt(dk)
                         for i in range(first, t + 1)]
                    m = max(s)
                    e = [math.exp(si - m) for si in s]
                    z = sum(e)
                    want = [sum(e[j] / z * v[b][first + j][head][c] for j in range(len(e)))
                            for c in range(len(v[b][t][head]))]
                    compare(out[b][t][head], want, f"attention[{b}][{t}][{head}]")


def check_ops(d):
    # One output per operation family, each from its textbook definition.
    x, M, S = arr(d, "x"), arr(d, "M"), arr(d, "S")
    outs = {n: arr(d, n) for n in
            ["ein", "tr", "sl", "cat", "red", "fn", "sel", "mm", "outer_dot"]}
    for b in range(len(x)):
        for t in range(len(x[b])):
            xt = x[b][t]                       # [4]
            at = f"[{b}][{t}]"
            # einsum("hk,hkv->hv", M, S) with M [2, 3], S [2, 3, 4]
            ein = [[sum(M[h][kk] * S[h][kk][vv] for kk in range(3)) for vv in range(4)]
                   for h in range(2)]
            compare(outs["ein"][b][t], ein, "ein" + at)
            # (x[None, :] * M.T[:, 0:1]).T -> [4, 3]? see the model: tr = M.T * x[0:3][:, None]
            tr = [[M[h][r] * xt[r] for h in range(2)] for r in range(3)]
            compare(outs["tr"][b][t], tr, "tr" + at)
            # sl = x[1:3] + x[-1]
            compare(outs["sl"][b][t], [xt[1] + xt[3], xt[2] + xt[3]], "sl" + at)
            # cat = concat(x[0:2], x, axis=0)
            compare(outs["cat"][b][t], xt[0:2] + xt, "cat" + at)
            # red = [sum(x), mean(M, axis=1)[0], max(M, axis=0)[2], min(x)]
            red = [sum(xt), sum(M[0]) / 3, max(M[0][2], M[1][2]), min(xt)]
            compare(outs["red"][b][t], red, "red" + at)
            # fn = [relu, silu, softplus, logsigmoid, rsqrt(|.|+1), pow(|.|, 1.5), exp, abs]
            x0 = xt[0]
            sp = math.log1p(math.exp(x0)) if x0 < 30 else x0
            fn = [max(x0, 0.0), x0 * sigmoid(x0), sp, -math.log1p(math.exp(-x0)),
                  1 / math.sqrt(abs(x0) + 1), abs(x0) ** 1.5, math.exp(x0), abs(x0)]
            compare(outs["fn"][b][t], fn, "fn" + at)
            # sel = where(x >= 0, x, 0.1 * x) with max(x, -0.5) and min(x, 0.5)
            sel = [xi if xi >= 0 else 0.1 * xi for xi in xt]
            sel = [min(max(s, -0.5), 0.5) for s in sel]
            compare(outs["sel"][b][t], sel, "sel" + at)
            # mm = S @ x -> [2, 3] (batched matrix-vector)
            mm = [[sum(S[h][r][c] * xt[c] for c in range(4)) for r in range(3)] for h in range(2)]
            compare(outs["mm"][b][t], mm, "mm" + at)
            # outer_dot = outer(x[0:2], x) * dot(x, x) -> [2, 4]
            dd = sum(xi * xi for xi in xt)
            compare(outs["outer_dot"][b][t], [[xt[i] * xt[j] * dd for j in range(4)]
                                              for i in range(2)], "outer_dot" + at)


CHECKS = {"gru": check_gru, "elman": check_elman, "attention": check_attention,
          "ops": check_ops}

if __name__ == "__main__":
    CHECKS[sys.argv[1]](sys.argv[2])
    print(f"reference {sys.argv[1]}: match")
