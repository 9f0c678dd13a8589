"""The mutation corpus of A2 (convolution): see tests/mutants/__init__.py."""
from tests.mutants import Mutant, Variant

PAD4 = "np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))"

EDITS = [
    # ---- Part 1: conv_output_size -------------------------------------------------------------
    Variant("conv_output_size", "conv_output_size", "divmod for the size and the remainder",
            "    return span // stride + 1\n", "    q, _ = divmod(span, stride)\n    return int(q) + 1\n"),
    Variant("conv_output_size", "conv_output_size", "strides that fit listed with a set",
            "        fits = [s for s in range(1, span + 1) if span % s == 0]\n",
            "        fits = sorted({s for s in range(1, span + 1) if span % s == 0})\n"),
    Mutant("conv_output_size", "conv_output_size", "off by one: no + 1",
           "    return span // stride + 1\n", "    return span // stride\n", "floor: (n + 2*pad - f) // stride + 1"),
    Mutant("conv_output_size", "conv_output_size", "padding counted once, not on both sides",
           "    span = n + 2 * pad - f\n", "    span = n + pad - f\n", "floor: (n + 2*pad - f) // stride + 1"),
    Mutant("conv_output_size", "conv_output_size", "exact mode never raises",
           "    if exact and span % stride != 0:\n", "    if False:\n",
           "with exact=True raise ValueError"),

    # ---- Part 2: conv_param_count -------------------------------------------------------------
    Variant("conv_param_count", "conv_param_count", "isinstance for the kernel size",
            "    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size\n",
            "    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)\n"),
    Variant("conv_param_count", "conv_param_count", "bias added with int(bool)",
            "    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)\n",
            "    return out_channels * (in_channels * kh * kw + int(bool(bias)))\n"),
    Mutant("conv_param_count", "conv_param_count", "bias left out",
           " + (out_channels if bias else 0)\n", "\n", "one bias per filter"),
    Mutant("conv_param_count", "conv_param_count", "input channels left out",
           "    return out_channels * in_channels * kh * kw", "    return out_channels * kh * kw",
           "one KxK slice per input channel"),
    Mutant("conv_param_count", "conv_param_count", "a pair taken as its first side squared",
           "    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size\n",
           "    kh = kw = kernel_size if np.isscalar(kernel_size) else kernel_size[0]\n",
           "a pair (KH, KW) gives KH * KW weights"),

    # ---- Part 3: conv_forward_naive -----------------------------------------------------------
    Variant("conv_forward_naive", "conv_forward_naive", "einsum over the window, float32 input kept",
            "                    out[n, f, i, j] = np.sum(xp[n, :, i * S:i * S + HH, j * S:j * S + WW] * w[f]) + b[f]\n",
            "                    out[n, f, i, j] = np.einsum('chw,chw->', xp[n, :, i * S:i * S + HH, j * S:j * S + WW], w[f]) + b[f]\n"),
    Variant("conv_forward_naive", "conv_forward_naive", "np.pad with a constant mode and a tuple per axis",
            f"    xp = {PAD4}\n", "    xp = np.pad(x, [(0, 0), (0, 0), (P, P), (P, P)], mode='constant', constant_values=0)\n"),
    Mutant("conv_forward_naive", "conv_forward_naive", "np.pad(x, P) pads the batch and channel axes",
           f"    xp = {PAD4}\n", "    xp = np.pad(x, P)\n", "np.pad(x, P) pads every axis"),
    Mutant("conv_forward_naive", "conv_forward_naive", "bias left out",
           " * w[f]) + b[f]\n", " * w[f])\n", "add b[f] to every output of filter f"),
    Mutant("conv_forward_naive", "conv_forward_naive", "stride ignored in the windows",
           "xp[n, :, i * S:i * S + HH, j * S:j * S + WW]", "xp[n, :, i:i + HH, j:j + WW]",
           "step by the stride"),

    # ---- Part 4: conv_backward_naive ----------------------------------------------------------
    Variant("conv_backward_naive", "conv_backward_naive", "bias gradient inside the loop",
            "    db = dout.sum(axis=(0, 2, 3))\n", "    db = np.zeros_like(b)\n    for f in range(Fn):\n        db[f] = dout[:, f].sum()\n"),
    Variant("conv_backward_naive", "conv_backward_naive", "padding cut with negative indices",
            "    return dxp[:, :, P:P + H, P:P + W], dw, db\n",
            "    return (dxp[:, :, P:-P, P:-P] if P else dxp), dw, db\n"),
    Mutant("conv_backward_naive", "conv_backward_naive", "bias gradient not summed over the batch",
           "    db = dout.sum(axis=(0, 2, 3))\n", "    db = dout.sum(axis=(2, 3))\n",
           "db[f] is the sum of dout[:, f]"),
    Mutant("conv_backward_naive", "conv_backward_naive", "np.pad(x, P) in the backward pass",
           f"    xp = {PAD4}\n", "    xp = np.pad(x, P)\n", "np.pad(x, P) pads every axis"),
    Mutant("conv_backward_naive", "conv_backward_naive", "padding not cut off dx",
           "    return dxp[:, :, P:P + H, P:P + W], dw, db\n", "    return dxp, dw, db\n",
           "cut the padding off dx at the end"),

    # ---- Part 5: im2col -----------------------------------------------------------------------
    Variant("im2col", "im2col", "sliding_window_view",
            "    # row r = (c, i, j) and column p = (h, w) of one image read xp[c, i + h*S, j + w*S]\n",
            "    win = np.lib.stride_tricks.sliding_window_view(xp, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]\n"
            "    return win[:, :, :Ho, :Wo].transpose(1, 4, 5, 0, 2, 3).reshape(C * HH * WW, N * Ho * Wo)\n"),
    Variant("im2col", "im2col", "a loop over the filter offsets",
            "    # row r = (c, i, j) and column p = (h, w) of one image read xp[c, i + h*S, j + w*S]\n",
            "    out = np.empty((C, HH, WW, N, Ho, Wo), dtype=x.dtype)\n"
            "    for a in range(HH):\n        for e in range(WW):\n"
            "            out[:, a, e] = xp[:, :, a:a + stride * Ho:stride, e:e + stride * Wo:stride].transpose(1, 0, 2, 3)\n"
            "    return out.reshape(C * HH * WW, N * Ho * Wo)\n"),
    Mutant("im2col", "im2col", "columns ordered (h, w, n): batch last",
           "    cols = cols.transpose(1, 0, 2)\n", "    cols = cols.transpose(1, 2, 0)\n",
           "column n*H_out*W_out + h*W_out + w holds the padded window"),
    Mutant("im2col", "im2col", "np.pad(x, pad) pads every axis",
           "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n", "    xp = np.pad(x, pad)\n",
           "np.pad(x, P) pads every axis"),
    Mutant("im2col", "im2col", "no padding",
           "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n",
           "    xp = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))\n",
           "holds the padded window"),

    # ---- Part 6: col2im -----------------------------------------------------------------------
    Variant("col2im", "col2im", "np.add.at",
            "    for i in range(HH):\n        for j in range(WW):\n"
            "            xp[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += c6[:, i, j].transpose(1, 0, 2, 3)\n",
            "    c, i, j, n, h, v = np.indices((C, HH, WW, N, Ho, Wo))\n"
            "    np.add.at(xp, (n, c, h * stride + i, v * stride + j), c6)\n"),
    Variant("col2im", "col2im", "padding cut with a helper slice",
            "    return xp[:, :, pad:pad + H, pad:pad + W]\n",
            "    keep = slice(pad, pad + H), slice(pad, pad + W)\n    return xp[:, :, keep[0], keep[1]]\n"),
    Mutant("col2im", "col2im", "overlapping windows overwrite instead of adding",
           "j:j + stride * Wo:stride] += c6", "j:j + stride * Wo:stride] = c6",
           "overlapping windows must add up"),
    Mutant("col2im", "col2im", "padding not cut off",
           "    return xp[:, :, pad:pad + H, pad:pad + W]\n", "    return xp\n",
           "without the padding"),
    Mutant("col2im", "col2im", "columns read as (n, h, w) in the wrong order",
           "    c6 = cols.reshape(C, HH, WW, N, Ho, Wo)\n", "    c6 = cols.reshape(C, HH, WW, Ho, Wo, N).transpose(0, 1, 2, 5, 3, 4)\n",
           "add each column back into the window"),

    # ---- Part 7: conv_forward_im2col ----------------------------------------------------------
    Variant("conv_forward_im2col", "conv_forward_im2col", "einsum product",
            "    out = w.reshape(Fn, -1) @ cols + b[:, None]\n",
            "    out = np.einsum('fk,kp->fp', w.reshape(Fn, -1), cols) + b.reshape(-1, 1)\n"),
    Variant("conv_forward_im2col", "conv_forward_im2col", "moveaxis for the batch axis",
            "    out = out.reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3)\n",
            "    out = np.moveaxis(out.reshape(Fn, N, Ho, Wo), 0, 1)\n"),
    Mutant("conv_forward_im2col", "conv_forward_im2col", "reshaped to (N, F, ...) directly",
           "    out = out.reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3)\n", "    out = out.reshape(N, Fn, Ho, Wo)\n",
           "reshape to (F, N, H_out, W_out)"),
    Mutant("conv_forward_im2col", "conv_forward_im2col", "bias left out",
           "    out = w.reshape(Fn, -1) @ cols + b[:, None]\n", "    out = w.reshape(Fn, -1) @ cols\n",
           "W_row @ X_col + b[:, None]"),
    Mutant("conv_forward_im2col", "conv_forward_im2col", "falls back on the naive loops",
           "    cols = im2col(x, HH, WW, S, P)\n", "    return conv_forward_naive(x, w, b, conv_param)\n",
           "use im2col and one matrix product instead"),
    Mutant("conv_forward_im2col", "conv_forward_im2col", "the naive loops copied in (im2col called for the cache only)",
           "    out = w.reshape(Fn, -1) @ cols + b[:, None]\n    out = out.reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3)\n",
           "    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))\n    out = np.empty((N, Fn, Ho, Wo))\n"
           "    for n in range(N):\n        for f in range(Fn):\n            for i in range(Ho):\n"
           "                for j in range(Wo):\n"
           "                    out[n, f, i, j] = np.sum(xp[n, :, i * S:i * S + HH, j * S:j * S + WW] * w[f]) + b[f]\n",
           "compute the output from the columns im2col returns"),

    # ---- Part 8: conv_backward_im2col ---------------------------------------------------------
    Variant("conv_backward_im2col", "conv_backward_im2col", "einsum gradients",
            "    dw = (dS @ cols.T).reshape(w.shape)\n", "    dw = np.einsum('fp,kp->fk', dS, cols).reshape(w.shape)\n"),
    Variant("conv_backward_im2col", "conv_backward_im2col", "dS by moveaxis",
            "    dS = dout.transpose(1, 0, 2, 3).reshape(Fn, -1)\n", "    dS = np.moveaxis(dout, 1, 0).reshape(Fn, -1)\n"),
    Mutant("conv_backward_im2col", "conv_backward_im2col", "dout reshaped to (F, -1) without moving the batch axis",
           "    dS = dout.transpose(1, 0, 2, 3).reshape(Fn, -1)\n", "    dS = dout.reshape(Fn, -1)\n",
           "dS is dout with F first"),
    Mutant("conv_backward_im2col", "conv_backward_im2col", "bias gradient averaged",
           "    db = dS.sum(axis=1)\n", "    db = dS.mean(axis=1)\n", "db = dS summed over its columns"),
    Mutant("conv_backward_im2col", "conv_backward_im2col", "weight matrix reshaped, not transposed, for dX_col",
           "    dcols = w.reshape(Fn, -1).T @ dS\n", "    dcols = w.reshape(-1, Fn) @ dS\n",
           "dX_col = W_row.T @ dS"),
    Mutant("conv_backward_im2col", "conv_backward_im2col", "falls back on the naive backward pass",
           "    x, w, b, conv_param, cols = cache\n", "    return conv_backward_naive(dout, cache[:4])\n",
           "use the three matrix products and col2im instead"),
    Mutant("conv_backward_im2col", "conv_backward_im2col", "dx by the naive loops, dw and db by matrix products",
           "    dx = col2im(dcols, x.shape, HH, WW, conv_param[\"stride\"], conv_param[\"pad\"])\n",
           "    S, P = conv_param[\"stride\"], conv_param[\"pad\"]\n    N, _, H, W = x.shape\n"
           "    dxp = np.zeros((N, C, H + 2 * P, W + 2 * P))\n    for n in range(N):\n        for f in range(Fn):\n"
           "            for i in range(dout.shape[2]):\n                for j in range(dout.shape[3]):\n"
           "                    dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] += w[f] * dout[n, f, i, j]\n"
           "    dx = dxp[:, :, P:P + H, P:P + W]\n",
           "return the dx that col2im(dX_col, ...) gives"),

    # ---- Part 9: max_pool_forward -------------------------------------------------------------
    Variant("max_pool_forward", "max_pool_forward", "loops over the output positions",
            "    out = win.max(axis=(-2, -1))\n",
            "    out = np.empty((N, C, Ho, Wo), dtype=x.dtype)\n    for h in range(Ho):\n        for v in range(Wo):\n"
            "            out[:, :, h, v] = x[:, :, h * S:h * S + PH, v * S:v * S + PW].max(axis=(2, 3))\n"),
    Variant("max_pool_forward", "max_pool_forward", "np.amax over a reshaped window",
            "    out = win.max(axis=(-2, -1))\n", "    out = np.amax(win.reshape(N, C, Ho, Wo, -1), axis=-1)\n"),
    Mutant("max_pool_forward", "max_pool_forward", "stride ignored",
           "axis=(2, 3))[:, :, ::S, ::S][:, :, :Ho, :Wo]\n", "axis=(2, 3))[:, :, :Ho, :Wo]\n",
           "windows start every S pixels"),
    Mutant("max_pool_forward", "max_pool_forward", "mean instead of max",
           "    out = win.max(axis=(-2, -1))\n", "    out = win.mean(axis=(-2, -1))\n",
           "is the largest value of"),
    Mutant("max_pool_forward", "max_pool_forward", "pool height and width swapped",
           "(x, (PH, PW), axis=(2, 3))", "(x, (PW, PH), axis=(2, 3))", "pool_height counts rows"),

    # ---- Part 10: max_pool_backward -----------------------------------------------------------
    Variant("max_pool_backward", "max_pool_backward", "a loop over the window offsets",
            "    n, c, h, v = np.indices((N, C, Ho, Wo))\n    i, j = np.divmod(arg, PW)\n"
            "    np.add.at(dx, (n, c, h * S + i, v * S + j), dout)\n",
            "    for k in range(PH * PW):\n        i, j = divmod(k, PW)\n"
            "        dx[:, :, i:i + S * Ho:S, j:j + S * Wo:S] += np.where(arg == k, dout, 0)\n"),
    Variant("max_pool_backward", "max_pool_backward", "unravel_index for the offsets",
            "    i, j = np.divmod(arg, PW)\n", "    i, j = np.unravel_index(arg, (PH, PW))\n"),
    Mutant("max_pool_backward", "max_pool_backward", "gradient routed to every tied maximum",
           "    arg = win.reshape(N, C, Ho, Wo, PH * PW).argmax(axis=-1)\n"
           "    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))\n"
           "    n, c, h, v = np.indices((N, C, Ho, Wo))\n    i, j = np.divmod(arg, PW)\n"
           "    np.add.at(dx, (n, c, h * S + i, v * S + j), dout)\n",
           "    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))\n"
           "    for h in range(Ho):\n        for v in range(Wo):\n"
           "            w_ = x[:, :, h * S:h * S + PH, v * S:v * S + PW]\n"
           "            mask = w_ == w_.max(axis=(2, 3), keepdims=True)\n"
           "            dx[:, :, h * S:h * S + PH, v * S:v * S + PW] += mask * dout[:, :, h, v][:, :, None, None]\n",
           "it went to every input that ties"),
    Mutant("max_pool_backward", "max_pool_backward", "overlapping windows overwrite instead of adding",
           "    np.add.at(dx, (n, c, h * S + i, v * S + j), dout)\n", "    dx[n, c, h * S + i, v * S + j] = dout\n",
           "add the gradients up"),
    Mutant("max_pool_backward", "max_pool_backward", "window offset by divmod with PH",
           "    i, j = np.divmod(arg, PW)\n", "    i, j = np.divmod(arg, PH)\n", "divmod(k, PW)"),

    # ---- Part 11: receptive_field -------------------------------------------------------------
    Variant("receptive_field", "receptive_field", "backwards from the last layer",
            "    r, jump = 1, 1\n    for k, s in layers:\n        r += (k - 1) * jump\n        jump *= s\n    return r\n",
            "    r = 1\n    for k, s in reversed(layers):\n        r = (r - 1) * s + k\n    return r\n"),
    Variant("receptive_field", "receptive_field", "np.cumprod of the strides",
            "    r, jump = 1, 1\n    for k, s in layers:\n        r += (k - 1) * jump\n        jump *= s\n    return r\n",
            "    if not layers:\n        return 1\n    ks, ss = np.array(layers).T\n"
            "    jumps = np.concatenate([[1], np.cumprod(ss)[:-1]])\n    return int(1 + np.sum((ks - 1) * jumps))\n"),
    Mutant("receptive_field", "receptive_field", "strides ignored",
           "        jump *= s\n", "        pass\n", "whose step is 2 input pixels"),
    Mutant("receptive_field", "receptive_field", "the stride of a layer applied to its own kernel",
           "        r += (k - 1) * jump\n        jump *= s\n", "        jump *= s\n        r += (k - 1) * jump\n",
           "one layer sees its kernel"),
    Mutant("receptive_field", "receptive_field", "the library's receptive_field",
           "    r, jump = 1, 1\n", "    import cnnkit.inspect\n    return cnnkit.inspect.receptive_field(layers)\n",
           "reference implementation"),
    Mutant("receptive_field", "receptive_field", "kernels summed",
           "        r += (k - 1) * jump\n", "        r += k * jump\n", "each layer adds k - 1"),

    # ---- Part 12: batchnorm_forward -----------------------------------------------------------
    Variant("batchnorm_forward", "batchnorm_forward", "statistics with keepdims and the variance written out",
            "    mean = x.mean(axis=0)\n    var = x.var(axis=0)\n",
            "    mean = np.mean(x, axis=0, keepdims=True)[0]\n    var = np.mean((x - mean) ** 2, axis=0)\n"),
    Variant("batchnorm_forward", "batchnorm_forward", "running statistics updated in place, setdefault",
            "    running_mean = bn_param.get(\"running_mean\", np.zeros(D))\n"
            "    running_var = bn_param.get(\"running_var\", np.ones(D))\n",
            "    running_mean = bn_param.setdefault(\"running_mean\", np.zeros(D))\n"
            "    running_var = bn_param.setdefault(\"running_var\", np.ones(D))\n"),
    Variant("batchnorm_forward", "batchnorm_forward", "evaluation mode through the same affine map",
            "        xhat = (x - running_mean) / np.sqrt(running_var + eps)\n        return gamma * xhat + beta, None\n",
            "        scale = gamma / np.sqrt(running_var + eps)\n        return x * scale + (beta - running_mean * scale), None\n"),
    Mutant("batchnorm_forward", "batchnorm_forward", "unbiased variance in the normalisation",
           "    var = x.var(axis=0)\n", "    var = x.var(axis=0, ddof=1)\n", "biased variance (divided by N)"),
    Mutant("batchnorm_forward", "batchnorm_forward", "eps added outside the square root",
           "    inv_std = 1.0 / np.sqrt(var + eps)\n", "    inv_std = 1.0 / (np.sqrt(var) + eps)\n",
           "sqrt(var + eps)"),
    Mutant("batchnorm_forward", "batchnorm_forward", "momentum weights the old running value",
           "    bn_param[\"running_mean\"] = (1 - momentum) * running_mean + momentum * mean\n"
           "    bn_param[\"running_var\"] = (1 - momentum) * running_var + momentum * var * N / (N - 1)\n",
           "    bn_param[\"running_mean\"] = momentum * running_mean + (1 - momentum) * mean\n"
           "    bn_param[\"running_var\"] = momentum * running_var + (1 - momentum) * var * N / (N - 1)\n",
           "(1 - momentum) * running + momentum * batch statistic"),
    Mutant("batchnorm_forward", "batchnorm_forward", "biased variance in the running average",
           " + momentum * var * N / (N - 1)\n", " + momentum * var\n", "unbiased batch variance"),
    Mutant("batchnorm_forward", "batchnorm_forward", "batch statistics in evaluation mode",
           "        xhat = (x - running_mean) / np.sqrt(running_var + eps)\n",
           "        xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)\n",
           "not the batch's"),

    # ---- Part 13: batchnorm_backward ----------------------------------------------------------
    Variant("batchnorm_backward", "batchnorm_backward", "a staged computational graph",
            "    g = dout * gamma\n    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))\n",
            "    dxhat = dout * gamma\n    xmu = xhat / inv_std\n"
            "    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * inv_std ** 3\n"
            "    dmean = -np.sum(dxhat * inv_std, axis=0) + dvar * np.mean(-2.0 * xmu, axis=0)\n"
            "    dx = dxhat * inv_std + dvar * 2.0 * xmu / N + dmean / N\n"),
    Variant("batchnorm_backward", "batchnorm_backward", "sums by einsum, means instead of sums over N",
            "    dgamma = (dout * xhat).sum(axis=0)\n    g = dout * gamma\n"
            "    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))\n",
            "    dgamma = np.einsum('nd,nd->d', dout, xhat)\n    g = dout * gamma\n"
            "    dx = inv_std * (g - g.mean(axis=0) - xhat * np.einsum('nd,nd->d', g, xhat) / N)\n"),
    Mutant("batchnorm_backward", "batchnorm_backward", "the batch statistics treated as constants",
           "    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))\n",
           "    dx = g * inv_std\n", "each column of dx sums to 0"),
    Mutant("batchnorm_backward", "batchnorm_backward", "the variance path left out",
           "    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))\n",
           "    dx = inv_std / N * (N * g - g.sum(axis=0))\n", "xhat * sum(g * xhat)"),
    Mutant("batchnorm_backward", "batchnorm_backward", "dgamma and dbeta swapped",
           "    return dx, dgamma, dbeta\n", "    return dx, dbeta, dgamma\n", "dbeta = sum over the batch of dout"),
    Mutant("batchnorm_backward", "batchnorm_backward", "gamma left out of the gradient reaching xhat",
           "    g = dout * gamma\n", "    g = dout\n", "g = dout * gamma"),
]


# The variant kinds of issue 32, for every part where they apply: calls of the course functions a
# test swaps in for the student's (conv_output_size, im2col, col2im) by keyword with the notebook's
# own parameter names; arithmetic equal to the solution's up to float round-off; tuple-like values
# (lists for tuples, numpy integers for ints).
_SIZES = "    Ho, Wo = conv_output_size(H, HH, S, P), conv_output_size(W, WW, S, P)\n"
_SIZES_KW = ("    Ho = conv_output_size(n=H, f=HH, stride=S, pad=P)\n"
             "    Wo = conv_output_size(n=W, f=WW, stride=S, pad=P, exact=False)\n")
_SIZES_IM = "    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)\n"
_SIZES_IM_KW = ("    Ho = conv_output_size(n=H, f=HH, stride=stride, pad=pad)\n"
                "    Wo = conv_output_size(n=W, f=WW, stride=stride, pad=pad)\n")
_DROP = "    mask = (rng.random(x.shape) >= p) / (1 - p)\n    return x * mask, (dropout_param, mask)\n"

EDITS += [
    # ---- Part 1: conv_output_size -------------------------------------------------------------
    Variant("conv_output_size", "conv_output_size", "a numpy integer returned",
            "    return span // stride + 1\n", "    return np.int64(span) // stride + 1\n"),
    # ---- Part 2: conv_param_count -------------------------------------------------------------
    Variant("conv_param_count", "conv_param_count", "kernel pair by np.broadcast_to, count as a numpy integer",
            "    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size\n",
            "    kh, kw = np.broadcast_to(kernel_size, 2)\n"),
    # ---- Part 3: conv_forward_naive -----------------------------------------------------------
    Variant("conv_forward_naive", "conv_forward_naive", "conv_output_size called by keyword", _SIZES, _SIZES_KW),
    Variant("conv_forward_naive", "conv_forward_naive", "window sum by np.tensordot (round-off), cache as a list",
            "                    out[n, f, i, j] = np.sum(xp[n, :, i * S:i * S + HH, j * S:j * S + WW] * w[f]) + b[f]\n"
            "    return out, (x, w, b, conv_param)\n",
            "                    out[n, f, i, j] = b[f] + np.tensordot(xp[n, :, i * S:i * S + HH, j * S:j * S + WW], w[f], 3)\n"
            "    return out, [x, w, b, conv_param]\n"),
    # ---- Part 4: conv_backward_naive ----------------------------------------------------------
    Variant("conv_backward_naive", "conv_backward_naive", "db summed one axis at a time (round-off)",
            "    db = dout.sum(axis=(0, 2, 3))\n", "    db = dout.sum(axis=3).sum(axis=2).sum(axis=0)\n"),
    Variant("conv_backward_naive", "conv_backward_naive", "gradients returned as a list",
            "    return dxp[:, :, P:P + H, P:P + W], dw, db\n", "    return [dxp[:, :, P:P + H, P:P + W], dw, db]\n"),
    # ---- Part 5: im2col -----------------------------------------------------------------------
    Variant("im2col", "im2col", "conv_output_size called by keyword", _SIZES_IM, _SIZES_IM_KW),
    # ---- Part 6: col2im -----------------------------------------------------------------------
    Variant("col2im", "col2im", "conv_output_size called by keyword", _SIZES_IM, _SIZES_IM_KW),
    # ---- Part 7: conv_forward_im2col ----------------------------------------------------------
    Variant("conv_forward_im2col", "conv_forward_im2col", "conv_output_size and im2col called by keyword",
            _SIZES + "    cols = im2col(x, HH, WW, S, P)\n",
            _SIZES_KW + "    cols = im2col(x=x, HH=HH, WW=WW, stride=S, pad=P)\n"),
    Variant("conv_forward_im2col", "conv_forward_im2col", "bias added after the reshape, cache as a list",
            "    out = w.reshape(Fn, -1) @ cols + b[:, None]\n    out = out.reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3)\n"
            "    return out, (x, w, b, conv_param, cols)\n",
            "    out = (w.reshape(Fn, -1) @ cols).reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3) + b[None, :, None, None]\n"
            "    return out, [x, w, b, conv_param, cols]\n"),
    # ---- Part 8: conv_backward_im2col ---------------------------------------------------------
    Variant("conv_backward_im2col", "conv_backward_im2col", "col2im called by keyword",
            "    dx = col2im(dcols, x.shape, HH, WW, conv_param[\"stride\"], conv_param[\"pad\"])\n",
            "    dx = col2im(cols=dcols, x_shape=x.shape, HH=HH, WW=WW, stride=conv_param[\"stride\"], pad=conv_param[\"pad\"])\n"),
    Variant("conv_backward_im2col", "conv_backward_im2col", "db from dout directly (round-off)",
            "    db = dS.sum(axis=1)\n", "    db = dout.sum(axis=(0, 2, 3))\n"),
    # ---- Part 9: max_pool_forward -------------------------------------------------------------
    Variant("max_pool_forward", "max_pool_forward", "conv_output_size called by keyword",
            "    Ho, Wo = conv_output_size(H, PH, S, 0), conv_output_size(W, PW, S, 0)\n",
            "    Ho, Wo = conv_output_size(n=H, f=PH, stride=S), conv_output_size(n=W, f=PW, stride=S, pad=0)\n"),
    # ---- Part 10: max_pool_backward -----------------------------------------------------------
    Variant("max_pool_backward", "max_pool_backward", "the cache read by index",
            "    x, pool_param = cache\n", "    x, pool_param = cache[0], cache[1]\n"),
    # ---- Part 11: receptive_field -------------------------------------------------------------
    Variant("receptive_field", "receptive_field", "each layer read by index, a numpy integer returned",
            "    r, jump = 1, 1\n    for k, s in layers:\n", "    r, jump = np.int64(1), 1\n    for layer in layers:\n        k, s = layer[0], layer[1]\n"),
    # ---- Part 12: batchnorm_forward -----------------------------------------------------------
    Variant("batchnorm_forward", "batchnorm_forward", "divide by the standard deviation (round-off)",
            "    xhat = (x - mean) * inv_std\n", "    xhat = (x - mean) / np.sqrt(var + eps)\n"),
    Variant("batchnorm_forward", "batchnorm_forward", "cache as a list",
            "    return gamma * xhat + beta, (xhat, gamma, inv_std)\n", "    return gamma * xhat + beta, [xhat, gamma, inv_std]\n"),
    # ---- Part 13: batchnorm_backward ----------------------------------------------------------
    Variant("batchnorm_backward", "batchnorm_backward", "gradients returned as a list",
            "    return dx, dgamma, dbeta\n", "    return [dx, dgamma, dbeta]\n"),

    # ---- Part 14: dropout_forward -------------------------------------------------------------
    Variant("dropout_forward", "dropout_forward", "numpy's legacy generator, seeded by np.random.seed",
            "    rng = np.random.default_rng(seed) if seed is not None else np.random\n"
            "    mask = (rng.random(x.shape) >= p) / (1 - p)\n",
            "    if seed is not None:\n        np.random.seed(seed)\n"
            "    mask = (np.random.rand(*x.shape) >= p) / (1 - p)\n"),
    Variant("dropout_forward", "dropout_forward", "kept where u < 1 - p, scaled by division (round-off), cache as a list",
            _DROP, "    keep = rng.random(x.shape) < 1 - p\n    out = np.where(keep, x / (1 - p), 0.0)\n"
                   "    return out, [dropout_param, keep / (1 - p)]\n"),
    Variant("dropout_forward", "dropout_forward", "evaluation mode returns a copy of x",
            "        return x, (dropout_param, None)\n", "        return x.copy(), (dropout_param, None)\n"),
    Variant("dropout_forward", "dropout_forward", "mask by rng.binomial",
            "    mask = (rng.random(x.shape) >= p) / (1 - p)\n",
            "    mask = (rng.binomial(1, 1 - p, size=x.shape) if seed is not None else np.random.binomial(1, 1 - p, x.shape)) / (1 - p)\n"),
    Mutant("dropout_forward", "dropout_forward", "p taken as the probability of keeping a unit",
           "    mask = (rng.random(x.shape) >= p) / (1 - p)\n", "    mask = (rng.random(x.shape) < p) / p\n",
           "p was taken as the probability of keeping a unit"),
    Mutant("dropout_forward", "dropout_forward", "kept units not scaled (dropout without inversion)",
           "    mask = (rng.random(x.shape) >= p) / (1 - p)\n", "    mask = (rng.random(x.shape) >= p) * 1.0\n",
           "the kept units equal x, unscaled"),
    Mutant("dropout_forward", "dropout_forward", "scaled by 1 / p",
           "    mask = (rng.random(x.shape) >= p) / (1 - p)\n", "    mask = (rng.random(x.shape) >= p) / p\n",
           "scales it by 1 / (1 - p) in training"),
    Mutant("dropout_forward", "dropout_forward", "the seed ignored",
           "    rng = np.random.default_rng(seed) if seed is not None else np.random\n", "    rng = np.random\n",
           "use dropout_param['seed']"),
    Mutant("dropout_forward", "dropout_forward", "a fixed generator when there is no seed",
           "    rng = np.random.default_rng(seed) if seed is not None else np.random\n",
           "    rng = np.random.default_rng(seed if seed is not None else 0)\n",
           "two calls without a seed dropped the same units"),
    Mutant("dropout_forward", "dropout_forward", "units dropped in evaluation mode too",
           "    if mode == \"eval\":\n        return x, (dropout_param, None)\n", "",
           "in evaluation mode every unit is kept"),
    Mutant("dropout_forward", "dropout_forward", "scaled by 1 - p at evaluation (the 2012 paper's rule)",
           "        return x, (dropout_param, None)\n", "        return x * (1 - p), (dropout_param, None)\n",
           "in evaluation mode every unit is kept"),
    Mutant("dropout_forward", "dropout_forward", "the boolean keep mask in the cache",
           "    return x * mask, (dropout_param, mask)\n", "    return x * mask, (dropout_param, mask > 0)\n",
           "the cache holds the scaled mask"),

    # ---- Part 15: dropout_backward ------------------------------------------------------------
    Variant("dropout_backward", "dropout_backward", "mode read from dropout_param, np.multiply",
            "    if mask is None:\n        return dout\n    return dout * mask\n",
            "    if dropout_param[\"mode\"] == \"eval\":\n        return dout.copy()\n    return np.multiply(dout, mask)\n"),
    Variant("dropout_backward", "dropout_backward", "the cache read by index, np.where on the mask",
            "    dropout_param, mask = cache\n    if mask is None:\n        return dout\n    return dout * mask\n",
            "    mask = cache[1]\n    return dout if mask is None else np.where(mask != 0, dout * mask, 0.0)\n"),
    Mutant("dropout_backward", "dropout_backward", "the kept units' gradient not scaled",
           "    return dout * mask\n", "    return dout * (mask > 0)\n", "scaled by 1 / (1 - p), like its output"),
    Mutant("dropout_backward", "dropout_backward", "scaled twice",
           "    return dout * mask\n", "    return dout * mask / (1 - dropout_param[\"p\"])\n", "dx = dout * mask"),
    Mutant("dropout_backward", "dropout_backward", "evaluation mode not handled",
           "    if mask is None:\n        return dout\n", "", "the cache's mask is None"),
    Mutant("dropout_backward", "dropout_backward", "dout passed through in training",
           "    return dout * mask\n", "    return dout\n", "a dropped unit passes no gradient"),
]
