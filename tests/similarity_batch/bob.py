ANSWERS = {
"conv_output_size": '''def conv_output_size(n, f, stride=1, pad=0, exact=False):
    total = n + 2 * pad - f
    if total < 0:
        raise ValueError("filter larger than the padded input")
    if exact and total % stride != 0:
        raise ValueError("stride does not fit")
    return total // stride + 1
''',
"conv_forward_naive": '''def conv_forward_naive(x, w, b, conv_param):
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    if x.shape[1] != w.shape[1]:
        raise ValueError("channel mismatch")
    num, _, height, width = x.shape
    nf, _, fh, fw = w.shape
    oh = conv_output_size(height, fh, stride, pad)
    ow = conv_output_size(width, fw, stride, pad)
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    result = np.empty((num, nf, oh, ow))
    for r in range(oh):
        top = r * stride
        for c in range(ow):
            left = c * stride
            patch = padded[:, :, top:top + fh, left:left + fw]
            result[:, :, r, c] = np.einsum("nchw,fchw->nf", patch, w)
    result += b.reshape(1, -1, 1, 1)
    return result, (x, w, b, conv_param)
''',
"conv_backward_naive": '''def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    fh, fw = w.shape[2], w.shape[3]
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    grad_padded = np.zeros(padded.shape)
    grad_w = np.zeros(w.shape)
    for r in range(dout.shape[2]):
        top = r * stride
        for c in range(dout.shape[3]):
            left = c * stride
            g = dout[:, :, r, c]
            patch = padded[:, :, top:top + fh, left:left + fw]
            grad_w += np.einsum("nf,nchw->fchw", g, patch)
            grad_padded[:, :, top:top + fh, left:left + fw] += np.einsum("nf,fchw->nchw", g, w)
    grad_b = np.sum(dout, axis=(0, 2, 3))
    grad_x = grad_padded[:, :, pad:padded.shape[2] - pad, pad:padded.shape[3] - pad]
    return grad_x, grad_w, grad_b
''',
"im2col": '''def im2col(x, HH, WW, stride=1, pad=0):
    num, ch, height, width = x.shape
    oh = conv_output_size(height, HH, stride, pad)
    ow = conv_output_size(width, WW, stride, pad)
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    columns = []
    for img in range(num):
        for r in range(oh):
            for c in range(ow):
                columns.append(padded[img, :, r * stride:r * stride + HH, c * stride:c * stride + WW].ravel())
    return np.stack(columns, axis=1)
''',
"max_pool_forward": '''def max_pool_forward(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    oh = conv_output_size(x.shape[2], ph, stride)
    ow = conv_output_size(x.shape[3], pw, stride)
    result = np.zeros(x.shape[:2] + (oh, ow))
    for r in range(oh):
        for c in range(ow):
            block = x[:, :, r * stride:r * stride + ph, c * stride:c * stride + pw]
            result[:, :, r, c] = block.max(axis=(2, 3))
    return result, (x, pool_param)
''',
"max_pool_backward": '''def max_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    grad = np.zeros_like(x)
    for img in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for r in range(dout.shape[2]):
                for c in range(dout.shape[3]):
                    block = x[img, ch, r * stride:r * stride + ph, c * stride:c * stride + pw]
                    k = np.argmax(block)
                    grad[img, ch, r * stride + k // pw, c * stride + k % pw] += dout[img, ch, r, c]
    return grad
''',
"receptive_field": '''def receptive_field(layers):
    size = 1
    step = 1
    for kernel, stride in layers:
        size = size + (kernel - 1) * step
        step = step * stride
    return size
''',
}
