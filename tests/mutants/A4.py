"""The mutation corpus of A4 (training a CNN): see tests/mutants/__init__.py.

Part 5's budget is counted in epochs (FINAL_MAX_EPOCHS), not seconds: its "over the budget"
mutant trains more epochs than that and is charged whatever the machine's speed.
"""
from tests.mutants import Mutant, Variant

_STEP_CLEAR_BACKWARD_STEP = ("    optimizer.zero_grad(set_to_none=True)\n    loss.backward()\n    optimizer.step()\n")

EDITS = [
    # ---- Part 1: the training step ------------------------------------------------------------
    Variant("step", "step", "gradients cleared after the step, not before the backward pass",
            _STEP_CLEAR_BACKWARD_STEP, "    loss.backward()\n    optimizer.step()\n    optimizer.zero_grad()\n"),
    Variant("step", "step", "log_softmax and nll_loss instead of cross_entropy",
            "    loss = F.cross_entropy(logits, y)\n", "    loss = F.nll_loss(F.log_softmax(logits, dim=1), y)\n"),
    Variant("step", "step", "loss and count converted with float() and .item()",
            "    return loss.item(), int((logits.detach().argmax(1) == y).sum())\n",
            "    return float(loss), (logits.argmax(dim=-1) == y).sum().item()\n"),
    Mutant("step", "step", "zero_grad missing: gradients pile up across steps",
           "    optimizer.zero_grad(set_to_none=True)\n", "",
           "the gradients piled up"),
    Mutant("step", "step", "model.train() missing",
           "    model.train()\n", "",
           "call model.train() first"),
    Mutant("step", "step", "optimizer.step() before loss.backward()",
           _STEP_CLEAR_BACKWARD_STEP, "    optimizer.zero_grad(set_to_none=True)\n    optimizer.step()\n    loss.backward()\n",
           "no weight changed"),
    Mutant("step", "step", "returns the loss after the update",
           "    return loss.item(), int((logits.detach().argmax(1) == y).sum())\n",
           "    return F.cross_entropy(model(x), y).item(), int((logits.detach().argmax(1) == y).sum())\n",
           "before the update"),

    # ---- Part 2: evaluation -------------------------------------------------------------------
    Variant("evaluate", "evaluate", "torch.inference_mode instead of no_grad",
            "    with torch.no_grad():\n", "    with torch.inference_mode():\n"),
    Variant("evaluate", "evaluate", "batch mean loss weighted by the batch size",
            "            total_loss += F.cross_entropy(logits, y[i:i + batch_size], reduction=\"sum\").item()\n",
            "            total_loss += F.cross_entropy(logits, y[i:i + batch_size]).item() * len(logits)\n"),
    Mutant("evaluate", "evaluate", "accuracy and loss as means of the batch means",
           "            total_loss += F.cross_entropy(logits, y[i:i + batch_size], reduction=\"sum\").item()\n"
           "            correct += int((logits.argmax(1) == y[i:i + batch_size]).sum())\n"
           "    model.train(was_training)\n"
           "    return total_loss / len(y), correct / len(y)\n",
           "            total_loss += F.cross_entropy(logits, y[i:i + batch_size]).item()\n"
           "            correct += (logits.argmax(1) == y[i:i + batch_size]).float().mean().item()\n"
           "    model.train(was_training)\n"
           "    batches = math.ceil(len(y) / batch_size)\n"
           "    return total_loss / batches, correct / batches\n",
           "you averaged the"),
    Mutant("evaluate", "evaluate", "model.eval() missing",
           "    model.eval()\n", "",
           "call model.eval() first"),
    Mutant("evaluate", "evaluate", "accuracy as a percentage",
           "correct / len(y)\n", "100 * correct / len(y)\n",
           "not a percentage"),
    Mutant("evaluate", "evaluate", "the model's mode not restored",
           "    model.train(was_training)\n", "",
           "put it back"),

    # ---- Part 3: the training loop ------------------------------------------------------------
    Variant("loop", "loop", "torch's global generator, seeded once with seed",
            "    generator = torch.Generator().manual_seed(seed)\n", "    torch.manual_seed(seed)\n    generator = None\n"),
    Variant("loop", "loop", "steps per epoch counted with len(range(...))",
            "    steps = epochs * math.ceil(len(y_train) / batch_size)\n",
            "    steps = epochs * len(range(0, len(y_train), batch_size))\n"),
    Mutant("loop", "loop", "seed ignored: the order comes from torch's global generator",
           "    generator = torch.Generator().manual_seed(seed)\n", "    generator = None\n",
           "two runs with seed="),
    Mutant("loop", "loop", "a fixed seed instead of the argument",
           "    generator = torch.Generator().manual_seed(seed)\n", "    generator = torch.Generator().manual_seed(0)\n",
           "gave the same run"),
    Mutant("loop", "loop", "the scheduler never stepped",
           "            scheduler.step()\n", "",
           "OneCycleLR(max_lr=lr"),
    Mutant("loop", "loop", "the training loss weighted as if every batch were full",
           "            total_loss += loss * len(idx)\n", "            total_loss += loss * batch_size\n",
           "not over its batches"),
    Mutant("loop", "loop", "max_seconds ignored",
           "            if max_seconds is not None and time.perf_counter() - start > max_seconds:\n",
           "            if False:\n",
           "the run must stop"),

    # ---- Part 4: plain vs residual ------------------------------------------------------------
    Variant("compare", "compare", "the residual network first, keyword arguments",
            "for _name, _residual in ((\"plain\", False), (\"residual\", True)):\n"
            "    seed_everything(0)\n"
            "    nets[_name] = CifarResNet(20, 10, _residual, widths=WIDTHS).to(device)\n",
            "for _name, _residual in ((\"residual\", True), (\"plain\", False)):\n"
            "    seed_everything(0)\n"
            "    nets[_name] = CifarResNet(depth=20, num_classes=10, residual=_residual, widths=WIDTHS).to(device)\n"),
    Variant("compare", "compare", "the training subset sliced once",
            "    results[_name] = train_model(nets[_name], X_train[:CMP_TRAIN], y_train[:CMP_TRAIN], X_val, y_val,\n",
            "    _Xs, _ys = X_train[:CMP_TRAIN], y_train[:CMP_TRAIN]\n"
            "    results[_name] = train_model(nets[_name], _Xs, _ys, X_val, y_val,\n"),
    Mutant("compare", "compare", "both networks residual",
           "    nets[_name] = CifarResNet(20, 10, _residual, widths=WIDTHS).to(device)\n",
           "    nets[_name] = CifarResNet(20, 10, True, widths=WIDTHS).to(device)\n",
           "residual=False"),
    Mutant("compare", "compare", "one epoch instead of CMP_EPOCHS",
           "epochs=CMP_EPOCHS, lr=0.2)", "epochs=1, lr=0.2)",
           "epochs of history"),
    Mutant("compare", "compare", "the stored networks are fresh copies, not the trained ones",
           "    results[_name] = train_model(nets[_name], X_train[:CMP_TRAIN]",
           "    results[_name] = train_model(CifarResNet(20, 10, _residual, widths=WIDTHS).to(device), X_train[:CMP_TRAIN]",
           "no better than guessing"),

    # ---- Part 5: a trained model --------------------------------------------------------------
    Variant("final", "final", "the model built with keyword arguments",
            "    model = CifarResNet(8, 10, True, widths=WIDTHS).to(device)\n",
            "    model = CifarResNet(depth=8, num_classes=10, residual=True, widths=WIDTHS).to(device)\n"),
    Variant("final", "final", "the whole budget of epochs",
            "epochs=10, lr=0.2", "epochs=FINAL_MAX_EPOCHS, lr=0.2"),
    Variant("final", "final", "a generous wall-clock safety net that never binds",
            "batch_size=64, seed=seed)", "batch_size=64, max_seconds=3600, seed=seed)"),
    Mutant("final", "final", "one epoch: far below the target",
           "epochs=10, lr=0.2", "epochs=1, lr=0.2",
           "below the target"),
    Mutant("final", "final", "trained on 300 images only",
           "    history = train_model(model, X_train, y_train, X_val, y_val,",
           "    history = train_model(model, X_train[:300], y_train[:300], X_val, y_val,",
           "below the target"),
    Mutant("final", "final", "returns the model alone",
           "    return model, history\n", "    return model\n",
           "expected a tuple (model, history)"),
    Mutant("final", "final", "over the budget: more epochs than FINAL_MAX_EPOCHS",
           "epochs=10, lr=0.2", "epochs=FINAL_MAX_EPOCHS + 2, lr=0.2",
           "over the budget"),
]
