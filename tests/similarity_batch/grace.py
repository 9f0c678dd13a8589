ANSWERS = {
"conv_output_size": '''def conv_output_size(n, f, stride=1, pad=0, exact=False):
    padded = n + pad + pad
    if f > padded:
        raise ValueError("window does not fit")
    positions = 0
    start = 0
    while start + f <= padded:
        positions += 1
        start += stride
    if exact and start - stride + f != padded:
        raise ValueError("not exact")
    return positions
''',
"conv_forward_naive": '''def conv_forward_naive(x, w, b, conv_param):
    st = conv_param["stride"]; pd = conv_param["pad"]
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"x channels {x.shape[1]} != w channels {w.shape[1]}")
    xp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pd, x.shape[3] + 2 * pd))
    xp[:, :, pd:pd + x.shape[2], pd:pd + x.shape[3]] = x
    rows = conv_output_size(x.shape[2], w.shape[2], st, pd)
    cols = conv_output_size(x.shape[3], w.shape[3], st, pd)
    flat_w = w.reshape(w.shape[0], -1)
    res = np.zeros((x.shape[0], w.shape[0], rows, cols))
    for img in range(x.shape[0]):
        for a in range(rows):
            for c in range(cols):
                piece = xp[img, :, a * st:a * st + w.shape[2], c * st:c * st + w.shape[3]].reshape(-1)
                res[img, :, a, c] = flat_w @ piece + b
    return res, (x, w, b, conv_param)
''',
"conv_backward_naive": '''def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    st = conv_param["stride"]; pd = conv_param["pad"]
    xp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pd, x.shape[3] + 2 * pd))
    xp[:, :, pd:pd + x.shape[2], pd:pd + x.shape[3]] = x
    flat_w = w.reshape(w.shape[0], -1)
    dflat = np.zeros_like(flat_w)
    dxp = np.zeros_like(xp)
    for img in range(x.shape[0]):
        for a in range(dout.shape[2]):
            for c in range(dout.shape[3]):
                sl = (img, slice(None), slice(a * st, a * st + w.shape[2]), slice(c * st, c * st + w.shape[3]))
                g = dout[img, :, a, c]
                dflat += np.outer(g, xp[sl].reshape(-1))
                dxp[sl] += (flat_w.T @ g).reshape(xp[sl].shape)
    dx = dxp[:, :, pd:pd + x.shape[2], pd:pd + x.shape[3]]
    return dx, dflat.reshape(w.shape), dout.sum(axis=3).sum(axis=2).sum(axis=0)
''',
"im2col": '''def im2col(x, HH, WW, stride=1, pad=0):
    xp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] = x
    rows = conv_output_size(x.shape[2], HH, stride, pad)
    cols = conv_output_size(x.shape[3], WW, stride, pad)
    mat = np.zeros((x.shape[1] * HH * WW, x.shape[0] * rows * cols), dtype=x.dtype)
    k = 0
    for img in range(x.shape[0]):
        for a in range(rows):
            for c in range(cols):
                mat[:, k] = xp[img, :, a * stride:a * stride + HH, c * stride:c * stride + WW].reshape(-1)
                k += 1
    return mat
''',
"max_pool_forward": '''def max_pool_forward(x, pool_param):
    hh, ww, st = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    rows = conv_output_size(x.shape[2], hh, st)
    cols = conv_output_size(x.shape[3], ww, st)
    res = np.zeros((x.shape[0], x.shape[1], rows, cols))
    where = np.zeros((x.shape[0], x.shape[1], rows, cols), dtype=int)
    for a in range(rows):
        for c in range(cols):
            piece = x[:, :, a * st:a * st + hh, c * st:c * st + ww].reshape(x.shape[0], x.shape[1], -1)
            where[:, :, a, c] = piece.argmax(-1)
            res[:, :, a, c] = piece.max(-1)
    return res, (x.shape, where, pool_param)
''',
"max_pool_backward": '''def max_pool_backward(dout, cache):
    shape, where, pool_param = cache
    ww, st = pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(shape)
    for img in range(shape[0]):
        for ch in range(shape[1]):
            for a in range(dout.shape[2]):
                for c in range(dout.shape[3]):
                    r0, c0 = divmod(where[img, ch, a, c], ww)
                    dx[img, ch, a * st + r0, c * st + c0] += dout[img, ch, a, c]
    return dx
''',
"receptive_field": '''def receptive_field(layers):
    if not layers:
        return 1
    # work backwards from one output unit
    size = 1
    for k, s in reversed(layers):
        size = (size - 1) * s + k
    return size
''',
}
