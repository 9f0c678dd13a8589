"""The mutation corpus of A1 (MLPs and backpropagation): see tests/mutants/__init__.py."""
from tests.mutants import Mutant, Variant

EDITS = [
    # ---- Part 1: activations ------------------------------------------------------------------
    Variant("activations", "activations", "sigmoid via tanh",
            "    out = np.empty_like(x, dtype=np.result_type(x, np.float64))\n"
            "    pos = x >= 0\n"
            "    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))\n"
            "    ex = np.exp(x[~pos])\n"
            "    out[~pos] = ex / (1.0 + ex)\n",
            "    out = 0.5 * (1.0 + np.tanh(0.5 * x))\n"),
    Variant("activations", "activations", "sigmoid by log-sum-exp (np.logaddexp)",
            "    out = np.empty_like(x, dtype=np.result_type(x, np.float64))\n"
            "    pos = x >= 0\n"
            "    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))\n"
            "    ex = np.exp(x[~pos])\n"
            "    out[~pos] = ex / (1.0 + ex)\n",
            "    out = np.exp(-np.logaddexp(0.0, -x))\n"),
    Variant("activations", "activations", "ReLU with np.where, a boolean mask as its cache",
            "    out = np.maximum(0, x)\n    cache = x\n",
            "    out = np.where(x > 0, x, np.zeros_like(x))\n    cache = x > 0\n"),
    Mutant("activations", "activations", "ReLU derivative taken as 1 at x = 0",
           "    dx = dout * (x > 0)\n", "    dx = dout * (x >= 0)\n",
           "we take the derivative of ReLU at 0 to be 0"),
    Mutant("activations", "activations", "leaky ReLU ignores its slope argument",
           "    out = np.where(x > 0, x, slope * x)\n", "    out = np.where(x > 0, x, 0.1 * x)\n",
           "use the slope argument"),
    Mutant("activations", "activations", "leaky ReLU backward uses the default slope, not the cached one",
           "    dx = np.where(x > 0, dout, slope * dout)\n", "    dx = np.where(x > 0, dout, 0.1 * dout)\n",
           "take what you need from the cache"),
    Mutant("activations", "activations", "sigmoid backward from the input, not the output",
           "    cache = out\n", "    cache = x\n",
           "take what you need from the cache"),

    # ---- Part 2: affine -----------------------------------------------------------------------
    Variant("affine", "affine", "einsum forward and weight gradient",
            "    out = x.reshape(N, -1) @ w + b\n", "    out = np.einsum('nd,dm->nm', x.reshape(N, -1), w) + b\n"),
    Variant("affine", "affine", "np.dot and np.sum, flattened in the cache",
            "    dw = x.reshape(N, -1).T @ dout\n    db = dout.sum(axis=0)\n",
            "    dw = np.dot(x.reshape(N, -1).T, dout)\n    db = np.sum(dout, axis=0)\n"),
    Variant("affine", "affine", "einsum weight gradient",
            "    dw = x.reshape(N, -1).T @ dout\n", "    dw = np.einsum('nd,nm->dm', x.reshape(N, -1), dout)\n"),
    Mutant("affine", "affine", "bias gradient missing",
           "    db = dout.sum(axis=0)\n", "    db = np.zeros_like(b)\n",
           "db = dout summed over the batch axis"),
    Mutant("affine", "affine", "bias gradient averaged, not summed",
           "    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n",
           "db = dout summed over the batch axis"),
    Mutant("affine", "affine", "dx not reshaped back to the input's shape",
           "    dx = (dout @ w.T).reshape(x.shape)\n", "    dx = dout @ w.T\n",
           "reshape dx back to the shape of the original x"),

    # ---- Part 3: losses -----------------------------------------------------------------------
    Variant("losses", "losses", "softmax with np.logaddexp.reduce",
            "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
            "    log_probs = shifted - np.logaddexp.reduce(shifted, axis=1, keepdims=True)\n"),
    Variant("losses", "losses", "one-hot matrix for the gradient, L2 as mean of row sums",
            "    dscores = np.exp(log_probs)\n    dscores[np.arange(N), y] -= 1.0\n    dscores /= N\n",
            "    dscores = (np.exp(log_probs) - np.eye(scores.shape[1])[y]) / N\n"),
    Variant("losses", "losses", "L2 loss as the mean of the rows' sums",
            "    loss = float(np.sum(diff ** 2) / N)\n", "    loss = float(np.mean(np.sum(diff ** 2, axis=1)))\n"),
    Mutant("losses", "losses", "softmax loss summed, not averaged",
           "    loss = float(-log_probs[np.arange(N), y].mean())\n",
           "    loss = float(-log_probs[np.arange(N), y].sum())\n",
           "the loss is the mean over the batch"),
    Mutant("losses", "losses", "softmax without subtracting the row maximum",
           "    shifted = scores - scores.max(axis=1, keepdims=True)\n", "    shifted = scores\n",
           "subtract each row's max"),
    Mutant("losses", "losses", "log of a probability that underflows",
           "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
           "    log_probs = np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True))\n",
           "not log of a probability that underflowed"),
    Mutant("losses", "losses", "L2 loss without the shape check (numpy broadcasts)",
           "    if pred.shape != target.shape:\n", "    if pred.ndim != target.ndim:\n",
           "numpy broadcasts (2, 3) against (2, 1)"),

    # ---- Part 4: numerical gradient -----------------------------------------------------------
    Variant("numgrad", "numgrad", "indices by itertools.product",
            "    for idx in np.ndindex(x.shape):\n",
            "    import itertools\n    for idx in itertools.product(*(range(n) for n in x.shape)):\n"),
    Variant("numgrad", "numgrad", "divided by h, then by 2",
            "        x[idx] = old\n        grad[idx] = (f_plus - f_minus) / (2.0 * h)\n",
            "        x[idx] = old\n        grad[idx] = (f_plus - f_minus) / h / 2\n"),
    Mutant("numgrad", "numgrad", "one-sided (forward) differences",
           "        x[idx] = old - h\n        f_minus = float(f(x))\n        x[idx] = old\n"
           "        grad[idx] = (f_plus - f_minus) / (2.0 * h)\n",
           "        x[idx] = old\n        f_minus = float(f(x))\n        grad[idx] = (f_plus - f_minus) / h\n",
           "one-sided difference"),
    Mutant("numgrad", "numgrad", "divides by h instead of 2h",
           "        grad[idx] = (f_plus - f_minus) / (2.0 * h)\n", "        grad[idx] = (f_plus - f_minus) / h\n",
           "without the 2 of 2h"),
    Mutant("numgrad", "numgrad", "entries not restored",
           "        x[idx] = old\n        grad", "        grad",
           "put each entry back"),
    Mutant("numgrad", "numgrad", "accepts float32",
           "    if not isinstance(x, np.ndarray) or x.dtype != np.float64:\n",
           "    if not isinstance(x, np.ndarray) or x.dtype.kind != 'f':\n",
           "raise TypeError unless it is np.float64"),

    # ---- Part 5: two-layer network ------------------------------------------------------------
    Variant("twolayer", "twolayer", "penalty as reg / 2 with W * W",
            "        loss = data_loss + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))\n",
            "        loss = data_loss + self.reg / 2 * (np.sum(W1 * W1) + np.sum(W2 * W2))\n"),
    Variant("twolayer", "twolayer", "weight gradients updated in place",
            "        grads = {\"W1\": dW1 + self.reg * W1, \"b1\": db1, \"W2\": dW2 + self.reg * W2, \"b2\": db2}\n",
            "        dW1 += self.reg * W1\n        dW2 += self.reg * W2\n"
            "        grads = dict(W1=dW1, b1=db1, W2=dW2, b2=db2)\n"),
    Mutant("twolayer", "twolayer", "regularisation gradient missing",
           "        grads = {\"W1\": dW1 + self.reg * W1, \"b1\": db1, \"W2\": dW2 + self.reg * W2, \"b2\": db2}\n",
           "        grads = {\"W1\": dW1, \"b1\": db1, \"W2\": dW2, \"b2\": db2}\n",
           "the gradient of the penalty is missing"),
    Mutant("twolayer", "twolayer", "penalty without the factor 0.5",
           "        loss = data_loss + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))\n",
           "        loss = data_loss + self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))\n",
           "the penalty is 0.5 * reg"),
    Mutant("twolayer", "twolayer", "biases regularised too",
           "        loss = data_loss + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))\n",
           "        loss = data_loss + 0.5 * self.reg * sum(np.sum(v ** 2) for v in self.params.values())\n",
           "your penalty includes the biases"),
    Mutant("twolayer", "twolayer", "seed ignored",
           "        rng = np.random.default_rng(seed)\n", "        rng = np.random.default_rng(0)\n",
           "use the seed argument"),

    # ---- Part 6: training ---------------------------------------------------------------------
    Variant("train", "train", "batches by np.split, parameters replaced",
            "        for start in range(0, N, batch_size):\n            idx = order[start:start + batch_size]\n",
            "        for idx in np.split(order, range(batch_size, N, batch_size)):\n"),
    Variant("train", "train", "learning rate from the epoch number",
            "    for _ in range(num_epochs):\n", "    for epoch in range(num_epochs):\n        lr = learning_rate * lr_decay ** epoch\n"),
    Mutant("train", "train", "learning rate never decayed",
           "        lr *= lr_decay\n", "        pass\n",
           "learning_rate *= lr_decay"),
    Mutant("train", "train", "last partial batch dropped",
           "        for start in range(0, N, batch_size):\n",
           "        for start in range(0, N - batch_size + 1, batch_size):\n",
           "the last batch may be smaller"),
    Mutant("train", "train", "epoch loss is the last batch's",
           "        history[\"train_loss\"].append(float(np.mean(losses)))\n",
           "        history[\"train_loss\"].append(float(losses[-1]))\n",
           "the plain mean of the epoch's batch losses"),

    # ---- Part 6b: the settings that train the digits model ------------------------------------
    Variant("digits", "digits", "a smaller hidden layer, less regularisation",
            "hidden_dim=100, weight_scale=0.1, reg=1e-3", "hidden_dim=64, weight_scale=0.1, reg=1e-4"),
    Variant("digits", "digits", "smaller batches, fewer epochs",
            "learning_rate=0.5, lr_decay=0.95, num_epochs=30, batch_size=64",
            "learning_rate=0.2, lr_decay=0.9, num_epochs=20, batch_size=32"),
    Mutant("digits", "digits", "learning rate far too small to train in 30 epochs",
           "learning_rate=0.5,", "learning_rate=0.001,", "tune the learning rate"),
    Mutant("digits", "digits", "learning rate so large that the loss diverges",
           "learning_rate=0.5,", "learning_rate=80.0,", "tune the learning rate"),
    Mutant("digits", "digits", "weights initialised to zero",
           "weight_scale=0.1,", "weight_scale=0.0,", "weight_scale must be positive"),
]


# The variant kinds of issue 32, for every part where they apply: calls of the functions a test
# swaps in for the student's (the course's layers in part 5, the test's model.loss in part 6) by
# keyword with the notebook's own parameter names; arithmetic equal to the solution's up to float
# round-off (an entry put back by adding and subtracting h); tuple-like values (lists for tuples,
# numpy numbers for Python ones).
_LAYERS = ("        s1, cache1 = affine_forward(X, W1, b1)\n        a1, cache_relu = relu_forward(s1)\n"
           "        scores, cache2 = affine_forward(a1, W2, b2)\n        if y is None:\n            return scores\n"
           "        data_loss, dscores = softmax_loss(scores, y)\n")
_LAYERS_KW = ("        s1, cache1 = affine_forward(x=X, w=W1, b=b1)\n        a1, cache_relu = relu_forward(x=s1)\n"
              "        scores, cache2 = affine_forward(x=a1, w=W2, b=b2)\n        if y is None:\n            return scores\n"
              "        data_loss, dscores = softmax_loss(scores=scores, y=y)\n")
_BACK = ("        da1, dW2, db2 = affine_backward(dscores, cache2)\n        ds1 = relu_backward(da1, cache_relu)\n"
         "        _, dW1, db1 = affine_backward(ds1, cache1)\n")
_BACK_KW = ("        da1, dW2, db2 = affine_backward(dout=dscores, cache=cache2)\n"
            "        ds1 = relu_backward(dout=da1, cache=cache_relu)\n"
            "        _, dW1, db1 = affine_backward(dout=ds1, cache=cache1)\n")

EDITS += [
    # ---- Part 1: activations ------------------------------------------------------------------
    Variant("activations", "activations", "sigmoid gradient as dout * (s - s * s) (round-off)",
            "    dx = dout * s * (1.0 - s)\n", "    dx = dout * (s - s * s)\n"),
    Variant("activations", "activations", "leaky ReLU's cache as a list",
            "    cache = (x, slope)\n", "    cache = [x, slope]\n"),
    # ---- Part 2: affine -----------------------------------------------------------------------
    Variant("affine", "affine", "dw as (dout.T @ x).T (round-off), gradients returned as a list",
            "    dw = x.reshape(N, -1).T @ dout\n    db = dout.sum(axis=0)\n    ### END SOLUTION\n    return dx, dw, db",
            "    dw = (dout.T @ x.reshape(N, -1)).T\n    db = dout.sum(axis=0)\n    ### END SOLUTION\n    return [dx, dw, db]"),
    # ---- Part 3: losses -----------------------------------------------------------------------
    Variant("losses", "losses", "L2 from pred - target (round-off), a numpy float loss",
            "    diff = target - pred\n    loss = float(np.sum(diff ** 2) / N)\n    dpred = -2.0 * diff / N\n",
            "    loss = np.sum((pred - target) ** 2) / N\n    dpred = 2 * (pred - target) / N\n"),
    Variant("losses", "losses", "softmax loss as log-sum-exp minus the label's score (round-off), a numpy float",
            "    loss = float(-log_probs[np.arange(N), y].mean())\n",
            "    lse = np.log(np.exp(shifted).sum(axis=1))\n    loss = np.mean(lse - shifted[np.arange(N), y])\n"),
    # ---- Part 4: numerical gradient -----------------------------------------------------------
    Variant("numgrad", "numgrad", "entries put back by adding and subtracting h (round-off)",
            "        x[idx] = old + h\n        f_plus = float(f(x))\n        x[idx] = old - h\n"
            "        f_minus = float(f(x))\n        x[idx] = old\n",
            "        x[idx] += h\n        f_plus = float(f(x))\n        x[idx] -= 2 * h\n"
            "        f_minus = float(f(x))\n        x[idx] += h\n"),
    Variant("numgrad", "numgrad", "the difference times 0.5 / h (round-off)",
            "        grad[idx] = (f_plus - f_minus) / (2.0 * h)\n", "        grad[idx] = (f_plus - f_minus) * (0.5 / h)\n"),
    # ---- Part 5: two-layer network ------------------------------------------------------------
    Variant("twolayer", "twolayer", "the layers called by keyword (forward)", _LAYERS, _LAYERS_KW),
    Variant("twolayer", "twolayer", "the layers called by keyword (backward), penalty by np.vdot (round-off)",
            "        loss = data_loss + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))\n" + _BACK,
            "        loss = data_loss + 0.5 * self.reg * (np.vdot(W1, W1) + np.vdot(W2, W2))\n" + _BACK_KW),
    Variant("twolayer", "twolayer", "loss and grads returned as a list",
            "        return loss, grads\n", "        return [loss, grads]\n"),
    # ---- Part 6: training ---------------------------------------------------------------------
    Variant("train", "train", "model.loss called by keyword",
            "            loss, grads = model.loss(X_train[idx], y_train[idx])\n",
            "            loss, grads = model.loss(X=X_train[idx], y=y_train[idx])\n"),
    Variant("train", "train", "the accuracy helper calls model.loss(X=...) by keyword",
            "    return float(np.mean(np.argmax(model.loss(X), axis=1) == y))\n",
            "    return float(np.mean(np.argmax(model.loss(X=X), axis=1) == y))\n"),
    Variant("train", "train", "epoch loss as sum / count (round-off), the accuracy helper by keyword",
            "        history[\"train_loss\"].append(float(np.mean(losses)))\n"
            "        history[\"train_acc\"].append(accuracy(model, X_train, y_train))\n"
            "        history[\"val_acc\"].append(accuracy(model, X_val, y_val))\n",
            "        history[\"train_loss\"].append(sum(losses) / len(losses))\n"
            "        history[\"train_acc\"].append(accuracy(model=model, X=X_train, y=y_train))\n"
            "        history[\"val_acc\"].append(accuracy(model=model, X=X_val, y=y_val))\n"),
    # ---- Part 6b: the settings that train the digits model ------------------------------------
    Variant("digits", "digits", "settings as numpy numbers",
            "net_settings = dict(hidden_dim=100, weight_scale=0.1, reg=1e-3)\n",
            "net_settings = dict(hidden_dim=np.int64(100), weight_scale=np.float64(0.1), reg=np.float64(1e-3))\n"),
]
