ANSWERS = {
"conv_output_size": '''def conv_output_size(n, f, stride=1, pad=0, exact=False):
    q, r = divmod(n - f + 2 * pad, stride)
    if n - f + 2 * pad < 0 or (exact and r):
        raise ValueError(f"size {n}, filter {f}, stride {stride}, pad {pad} do not work")
    return q + 1
''',
"conv_forward_naive": '''def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    assert x.shape[1] == w.shape[1] or (_ for _ in ()).throw(ValueError("channels"))
    k1, k2 = w.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    h_out = (xpad.shape[2] - k1) // s + 1
    w_out = (xpad.shape[3] - k2) // s + 1
    y = np.zeros((x.shape[0], w.shape[0], h_out, w_out)) + b[None, :, None, None]
    # slide the kernel offsets instead of the output positions
    for di in range(k1):
        for dj in range(k2):
            part = xpad[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s]
            y += np.tensordot(part, w[:, :, di, dj], axes=([1], [1])).transpose(0, 3, 1, 2)
    return y, (x, w, b, conv_param)
''',
"conv_backward_naive": '''def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    k1, k2 = w.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    h_out, w_out = dout.shape[2:]
    dxpad = np.zeros_like(xpad)
    dw = np.empty_like(w)
    for di in range(k1):
        for dj in range(k2):
            part = xpad[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s]
            dw[:, :, di, dj] = np.tensordot(dout, part, axes=([0, 2, 3], [0, 2, 3]))
            dxpad[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s] += np.tensordot(dout, w[:, :, di, dj], axes=([1], [0])).transpose(0, 3, 1, 2)
    h, ww = x.shape[2:]
    return dxpad[:, :, p:p + h, p:p + ww], dw, dout.sum((0, 2, 3))
''',
"im2col": '''def im2col(x, HH, WW, stride=1, pad=0):
    xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c = x.shape[:2]
    h_out = (xpad.shape[2] - HH) // stride + 1
    w_out = (xpad.shape[3] - WW) // stride + 1
    out = np.zeros((c, HH, WW, n, h_out, w_out), dtype=x.dtype)
    for di in range(HH):
        for dj in range(WW):
            out[:, di, dj] = xpad[:, :, di:di + stride * h_out:stride, dj:dj + stride * w_out:stride].transpose(1, 0, 2, 3)
    return out.reshape(c * HH * WW, -1)
''',
"max_pool_forward": '''def max_pool_forward(x, pool_param):
    a, bb, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out = (x.shape[2] - a) // s + 1
    w_out = (x.shape[3] - bb) // s + 1
    best = np.full(x.shape[:2] + (h_out, w_out), -np.inf)
    for di in range(a):
        for dj in range(bb):
            best = np.maximum(best, x[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s])
    return best, (x, best, pool_param)
''',
"max_pool_backward": '''def max_pool_backward(dout, cache):
    x, best, pool_param = cache
    a, bb, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = best.shape[2:]
    dx = np.zeros_like(x)
    taken = np.zeros(best.shape, dtype=bool)
    for di in range(a):
        for dj in range(bb):
            hit = (x[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s] == best) & ~taken
            dx[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s] += hit * dout
            taken |= hit
    return dx
''',
"receptive_field": '''def receptive_field(layers):
    strides = [s for _, s in layers]
    return 1 + sum((k - 1) * int(np.prod(strides[:i])) for i, (k, _) in enumerate(layers))
''',
}
