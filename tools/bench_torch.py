#!/usr/bin/python3
"""bench_torch.py - runs oclnn-bench's suites with PyTorch on the CPU and compares, or trains the
project's three models with PyTorch (and oclnn-train) on synthetic Fashion-MNIST-shaped data.

  bench_torch.py conv|layers|gemm [--oclnn build/tools/oclnn-bench] [--batch 32] [--threads N]
                                  [--rounds R]
  bench_torch.py train --model lenet|resnet|convnext [--steps N] [--batch B] [--oclnn-train PATH]

The entries (names and shapes) come from `oclnn-bench SUITE --list --json`, so both sides always
run the same suite. ratio = torch ms / oclnn ms: 1.0 = oclnn as fast as PyTorch, 0.5 = half as
fast. With --rounds R the two sides take turns R times (PyTorch's suite, then oclnn-bench's) and
each entry keeps its best (--min) or median round on each side, so a machine whose speed drifts
over minutes is sampled alike by both. Run with Debian's Python (/usr/bin/python3: torch 1.13 + numpy).
"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BENCH = os.path.join(ROOT, "build", "tools", "oclnn-bench")
TCMALLOC_MARK = "BENCH_TORCH_TCMALLOC"
MIN_REP_S = 0.002  # a timed repetition runs back-to-back calls for at least this long


def fail(msg):
    print(f"bench_torch.py: {msg}", file=sys.stderr)
    sys.exit(1)


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be at least 1")
    return v


def batch_list(text):
    items = text.split(",")
    for item in items:
        positive_int(item)
    return ",".join(items)


def parse_args():
    p = argparse.ArgumentParser(
        description="Compare oclnn with PyTorch (CPU) on the oclnn-bench suites, or train the "
        "project's models with PyTorch.")
    sub = p.add_subparsers(dest="cmd", metavar="conv|layers|gemm|train")
    sub.required = True
    for suite in ("conv", "layers", "gemm"):
        s = sub.add_parser(suite, help=f"the {suite} suite of oclnn-bench")
        s.add_argument("--oclnn", default=DEFAULT_BENCH,
                       help="oclnn-bench executable (default: build/tools/oclnn-bench)")
        s.add_argument("--batch", type=batch_list, default="32",
                       help="batch size(s), comma-separated (default 32; gemm has none)")
        s.add_argument("--threads", type=positive_int, default=os.cpu_count(),
                       help="torch.set_num_threads (default: all cores)")
        s.add_argument("--repeat", type=positive_int, default=5,
                       help="timed repetitions per measurement, both sides (default 5)")
        s.add_argument("--min", action="store_true",
                       help="the fastest repetition on both sides instead of the median (steadier "
                            "on a machine whose neighbours steal the cores now and then)")
        s.add_argument("--filter", help="only entries whose name contains this")
        s.add_argument("--pass", dest="passes", default="all",
                       help="fwd, bwd_data, bwd_weights, bwd or all (comma-separated)")
        s.add_argument("--rounds", type=positive_int, default=1,
                       help="PyTorch's suite and oclnn-bench's take turns this many times; each "
                            "entry keeps its fastest (--min) or median round per side (default 1)")
    t = sub.add_parser("train", help="train a model on synthetic data and report images/s")
    t.add_argument("--model", required=True, choices=("lenet", "resnet", "convnext"))
    t.add_argument("--steps", type=positive_int, default=20, help="timed steps (default 20)")
    t.add_argument("--batch", type=positive_int,
                   help="batch size (default: the model's, 64 for lenet, else 128)")
    t.add_argument("--threads", type=positive_int, default=os.cpu_count())
    t.add_argument("--oclnn-train", dest="oclnn_train",
                   help="oclnn-train executable to run with the same model, steps and batch")
    return p.parse_args()


def child_env():
    """The environment of oclnn subprocesses: without our tcmalloc preload."""
    env = dict(os.environ)
    if env.pop(TCMALLOC_MARK, None) is not None:
        pre = [x for x in env.get("LD_PRELOAD", "").split(":") if x and "tcmalloc" not in x]
        if pre:
            env["LD_PRELOAD"] = ":".join(pre)
        else:
            env.pop("LD_PRELOAD", None)
    return env


def preload_tcmalloc():
    """PyTorch allocates a fresh output per call; in this VM page faults then dominate large
    outputs. Re-exec once with tcmalloc preloaded so kernels are compared with kernels."""
    if os.environ.get(TCMALLOC_MARK):
        return
    libs = sorted(glob.glob("/usr/lib/*/libtcmalloc_minimal.so.4") +
                  glob.glob("/usr/lib/libtcmalloc_minimal.so.4"))
    if not libs:
        return
    env = dict(os.environ)
    env[TCMALLOC_MARK] = libs[0]
    env["LD_PRELOAD"] = ":".join(x for x in (libs[0], env.get("LD_PRELOAD", "")) if x)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def alloc_note():
    lib = os.environ.get(TCMALLOC_MARK)
    if lib:
        return f"PyTorch allocates through tcmalloc (re-executed with LD_PRELOAD={lib})"
    return "glibc malloc (libtcmalloc_minimal.so.4 not found: large outputs pay page faults)"


def load_warning(threads):
    """Multi-threaded PyTorch (OpenMP) collapses when other processes hold the cores: a barrier
    waits for a descheduled thread. Say so rather than print misleading figures silently."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return
    cores = os.cpu_count() or 1
    if threads > 1 and load > cores - threads + 0.5:
        print(f"warning: load average {load:.1f} on {cores} cores: other processes compete for "
              f"the cores and {threads}-thread PyTorch timings can be many times too slow "
              "(rerun on a quiet machine or with --threads 1)", flush=True)


def blas_library(torch):
    """The BLAS library torch.mm ends up in, from this process's memory map."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"blas|mkl", os.path.basename(path)) and os.path.exists(path):
                libs.add(os.path.realpath(path))
    if not libs:
        return "(none loaded: torch's own kernels)"
    text = ", ".join(sorted(libs))
    if any("/blas/" in p and "openblas" not in p for p in libs):
        text += " -- Debian's reference BLAS (slow): install libopenblas0 to compare fairly"
    return text


def time_ms(fn, repeat, fastest=False):
    """Median (or fastest) ms per call: two untimed calls, then `repeat` repetitions of enough
    back-to-back calls to last MIN_REP_S."""
    fn()
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    inner = 1 if one >= MIN_REP_S else min(1000, math.ceil(MIN_REP_S / max(one, 1e-7)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return (min(times) if fastest else statistics.median(times)) * 1e3


# ---- the suites in PyTorch: one function per entry "op", returning {pass: callable} ----------

def torch_conv(torch, e):
    F = torch.nn.functional
    n, c, h, w, k = e["batch"], e["c"], e["h"], e["w"], e["k"]
    g, st, pd = e["groups"], e["stride"], e["pad"]
    x = torch.randn(n, c, h, w)
    wt = torch.randn(k, c // g, e["r"], e["s"]) * 0.1
    dy = torch.randn(n, k, e["oh"], e["ow"])

    def fwd():
        with torch.no_grad():
            return F.conv2d(x, wt, None, st, pd, 1, g)

    return {
        "fwd": fwd,
        "bwd_data": lambda: torch.nn.grad.conv2d_input(x.shape, wt, dy, st, pd, 1, g),
        "bwd_weights": lambda: torch.nn.grad.conv2d_weight(x, wt.shape, dy, st, pd, 1, g),
    }


def torch_gemm(torch, e):
    """Two ways PyTorch can multiply: torch.mm (the BLAS torch links, which may be Debian's
    reference BLAS) and oneDNN's 1x1 convolution (b as k channels of n pixels, called directly:
    F.conv2d would fall back to im2col + BLAS for a 1x1 batch-1 convolution on one thread); the
    faster counts."""
    m, n, k = e["m"], e["n"], e["k"]
    a = torch.randn(m, k)
    c = torch.empty(m, n)
    if e.get("trans_b"):
        # A linear layer's y = x w^T, w stored [n][k]: torch.mm on the transposed view,
        # F.linear (PyTorch's own choice, BLAS) and oneDNN's 1x1 convolution computing y^T =
        # w x^T (x transposed in and y out inside the timing).
        w = torch.randn(n, k)
        w4 = w.view(n, k, 1, 1)

        def onednn_t():
            xt = a.t().contiguous().view(1, k, 1, m)
            yt = torch.ops.aten.mkldnn_convolution(xt, w4, None, [0, 0], [1, 1], [1, 1], 1)
            return yt.view(n, m).t().contiguous()

        return {"fwd": {"mm": lambda: torch.mm(a, w.t(), out=c),
                        "linear": lambda: torch.nn.functional.linear(a, w),
                        "onednn_1x1": onednn_t}}
    b = torch.randn(k, n)
    b4, a4 = b.view(1, k, 1, n), a.view(m, k, 1, 1)

    def onednn():
        return torch.ops.aten.mkldnn_convolution(b4, a4, None, [0, 0], [1, 1], [1, 1], 1)

    return {"fwd": {"mm": lambda: torch.mm(a, b, out=c), "onednn_1x1": onednn}}


def torch_layer(torch, e):
    F = torch.nn.functional
    aten = torch.ops.aten
    op, shape = e["op"], e["x"]
    x = torch.randn(*shape)
    if op in ("relu", "gelu"):
        dy = torch.randn(*shape)
        if op == "relu":
            return {"fwd": lambda: torch.relu(x),
                    "bwd": lambda: aten.threshold_backward(dy, x, 0.0)}
        return {"fwd": lambda: F.gelu(x), "bwd": lambda: aten.gelu_backward(dy, x)}
    if op == "add":
        z = torch.randn(*shape)
        return {"fwd": lambda: torch.add(x, z)}
    if op in ("maxpool", "avgpool"):
        kk, st, pd = [e["window"]] * 2, [e["stride"]] * 2, [e["pad"]] * 2
        if op == "maxpool":
            y, idx = F.max_pool2d(x, kk, st, pd, return_indices=True)
            dy = torch.randn_like(y)
            return {"fwd": lambda: F.max_pool2d(x, kk, st, pd),
                    "bwd": lambda: aten.max_pool2d_with_indices_backward(dy, x, kk, st, pd,
                                                                        [1, 1], False, idx)}
        y = F.avg_pool2d(x, kk, st, pd, count_include_pad=True)
        dy = torch.randn_like(y)
        return {"fwd": lambda: F.avg_pool2d(x, kk, st, pd, count_include_pad=True),
                "bwd": lambda: aten.avg_pool2d_backward(dy, x, kk, st, pd, False, True, None)}
    if op == "global_avg_pool":
        dy = torch.randn(shape[0], shape[1], 1, 1)
        return {"fwd": lambda: F.adaptive_avg_pool2d(x, 1),
                "bwd": lambda: aten._adaptive_avg_pool2d_backward(dy, x)}
    if op == "batchnorm":
        c = shape[1]
        gm, bt = torch.rand(c) + 0.5, torch.randn(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        dy = torch.randn(*shape)
        _, sm, si = aten.native_batch_norm(x, gm, bt, rm, rv, True, 0.1, 1e-5)
        return {"fwd": lambda: aten.native_batch_norm(x, gm, bt, rm, rv, True, 0.1, 1e-5),
                "bwd": lambda: aten.native_batch_norm_backward(dy, x, gm, rm, rv, sm, si, True,
                                                               1e-5, [True, True, True])}
    if op == "layernorm_chw":
        ns = shape[1:]
        gm, bt = torch.rand(*ns) + 0.5, torch.randn(*ns)
        dy = torch.randn(*shape)
        _, mean, rstd = aten.native_layer_norm(x, ns, gm, bt, e["eps"])
        return {"fwd": lambda: aten.native_layer_norm(x, ns, gm, bt, e["eps"]),
                "bwd": lambda: aten.native_layer_norm_backward(dy, x, ns, mean, rstd, gm, bt,
                                                               [True, True, True])}
    if op == "layernorm_channels":
        # ConvNeXt's channels-first LayerNorm as timm writes it: permute, normalise over C.
        c = shape[1]
        gm = (torch.rand(c) + 0.5).requires_grad_()
        bt = torch.randn(c).requires_grad_()
        xg = x.clone().requires_grad_()
        dy = torch.randn(*shape)

        def ln(t):
            return F.layer_norm(t.permute(0, 2, 3, 1), (c,), gm, bt, e["eps"]).permute(0, 3, 1, 2)

        def fwd():
            with torch.no_grad():
                return ln(x)

        y = ln(xg)
        return {"fwd": fwd,
                "bwd": lambda: torch.autograd.grad(y, (xg, gm, bt), dy, retain_graph=True)}
    if op == "softmax_ce":
        n, k = shape
        labels = torch.randint(0, k, (n,))
        logits = x.clone().requires_grad_()

        def fwd():
            with torch.no_grad():
                return F.cross_entropy(x, labels)

        loss = F.cross_entropy(logits, labels)
        return {"fwd": fwd, "bwd": lambda: torch.autograd.grad(loss, logits, retain_graph=True)}
    if op in ("sgd", "adamw"):
        p = torch.nn.Parameter(x * 0.1)
        p.grad = torch.randn(*shape) * 1e-3
        if op == "sgd":
            opt = torch.optim.SGD([p], lr=e["lr"], momentum=e["momentum"],
                                  weight_decay=e["weight_decay"])
        else:
            opt = torch.optim.AdamW([p], lr=e["lr"], weight_decay=e["weight_decay"])
        return {"step": opt.step}
    if op == "linear":
        n, i = shape
        o = e["out"]
        wt, b = torch.randn(o, i) * 0.02, torch.randn(o)
        dy = torch.randn(n, o)

        def bwd_weights():
            return torch.mm(dy.t(), x), dy.sum(0)

        return {"fwd": lambda: F.linear(x, wt, b), "bwd_data": lambda: torch.mm(dy, wt),
                "bwd_weights": bwd_weights}
    return None


def pass_wanted(name, passes):
    if name == "step" or "all" in passes:
        return True
    if name == "bwd":
        return bool(passes & {"bwd", "bwd_data", "bwd_weights"})
    return name in passes or (name.startswith("bwd_") and "bwd" in passes)


def run_oclnn(args, extra):
    cmd = [args.oclnn, args.cmd, "--json"] + extra
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=child_env(), text=True)
    except OSError as e:
        fail(f"cannot run {args.oclnn}: {e}")
    if proc.returncode == 2:
        fail(f"{' '.join(cmd)} rejected its options (see above)")
    out = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"bench_torch.py: ignoring a malformed line from oclnn-bench: {line}",
                      file=sys.stderr)
    return proc.returncode, out


def torch_suite(args, torch, entries, passes):
    """One PyTorch run of the suite: {(name, batch, pass): (ms, variant)}."""
    builders = {"conv": torch_conv, "gemm": torch_gemm, "layers": torch_layer}
    torch_ms = {}
    for e in entries:
        fns = builders[args.cmd](torch, e)
        if fns is None:
            print(f"bench_torch.py: no PyTorch version of op {e.get('op')} ({e['name']}): skipped",
                  file=sys.stderr)
            continue
        for pname, fn in fns.items():
            if not pass_wanted(pname, passes):
                continue
            if sys.stderr.isatty():
                print(f"\r\033[K[torch] {e['name']} b{e.get('batch')} {pname}", end="",
                      file=sys.stderr, flush=True)
            variants = fn if isinstance(fn, dict) else {"": fn}
            best = min((time_ms(f, args.repeat, args.min), label)
                       for label, f in variants.items())
            torch_ms[(e["name"], e.get("batch"), pname)] = best
        del fns
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    return torch_ms


def compare(args):
    if not (os.path.isfile(args.oclnn) and os.access(args.oclnn, os.X_OK)):
        fail(f"oclnn-bench not found at {args.oclnn}: build it (ninja -C build) or pass "
             "--oclnn PATH")
    common = ["--repeat", str(args.repeat)] + (["--min"] if args.min else [])
    if args.cmd != "gemm":
        common += ["--batch", args.batch]
    if args.filter:
        common += ["--filter", args.filter]
    passes = set(args.passes.split(","))
    bad = passes - {"fwd", "bwd_data", "bwd_weights", "bwd", "all"}
    if bad:
        fail(f"--pass: unknown pass {', '.join(sorted(bad))} (fwd bwd_data bwd_weights bwd all)")
    rc, entries = run_oclnn(args, ["--list"] + common)
    entries = [e for e in entries if e.get("suite") == args.cmd]
    if rc != 0 or not entries:
        fail(f"{args.oclnn} --list gave no {args.cmd} entries (exit status {rc})")

    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__} on the CPU, {torch.get_num_threads()} threads, "
          f"{alloc_note()}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"torch.mm/linear BLAS: {blas_library(torch)}")
    load_warning(args.threads)
    stat = "fastest" if args.min else "median"
    print(f"torch ms = {stat} of {args.repeat} repetitions after two untimed calls (forward "
          f"under no_grad; backward passes alone); oclnn ms likewise", flush=True)
    extra = list(common)
    if args.cmd == "conv":
        extra += ["--algo", "auto"]
    if args.cmd != "gemm":
        extra += ["--pass", args.passes]
    torch_rounds, oclnn_rounds = [], []
    device = "(no device)"
    for rnd in range(args.rounds):
        if args.rounds > 1:
            print(f"round {rnd + 1} of {args.rounds}", file=sys.stderr, flush=True)
        torch_rounds.append(torch_suite(args, torch, entries, passes))
        rc, results = run_oclnn(args, extra)
        oclnn_rounds.append({(r["name"], r.get("batch"), r.get("pass")): r for r in results
                             if r.get("suite") == args.cmd and r.get("pass")})
        device = next((r["device"] for r in results if r.get("device")), device)
        if rc != 0:
            print(f"note: oclnn-bench exited with status {rc}: some measurements failed",
                  file=sys.stderr)

    def pick(values, key):
        """The fastest (--min) or the median (the lower of two) of one entry's rounds."""
        values = sorted(values, key=key)
        return values[0] if args.min else values[(len(values) - 1) // 2]

    torch_ms = {k: pick([t[k] for t in torch_rounds], lambda v: v[0]) for k in torch_rounds[0]}
    oclnn = {}
    for k in oclnn_rounds[0]:
        ok = [o[k] for o in oclnn_rounds if k in o and o[k].get("status") == "ok"]
        oclnn[k] = pick(ok, lambda r: r["ms"]) if ok else oclnn_rounds[0][k]

    print(f"oclnn on {device}; ratio = torch ms / oclnn ms (1.0 = as fast as PyTorch, "
          "0.5 = half as fast)" + (f"; {stat} of {args.rounds} rounds per side"
                                   if args.rounds > 1 else "") + "\n")
    print(f"{'name':26} {'batch':>5}  {'pass':11} {'torch ms':>10} {'oclnn ms':>10} "
          f"{'ratio':>7}  notes (oclnn: algorithm AUTO chose)")
    ratios = {}
    for (name, batch, pname), (tms, variant) in torch_ms.items():
        r = oclnn.get((name, batch, pname))
        oms = r.get("ms") if r else None
        if r is None:
            note = "not measured"
        elif r.get("status") != "ok":
            note = f"{r.get('status')}: {r.get('error', '')}"
        else:
            note = r.get("chosen") or ""
        if variant:
            note = f"{note} (torch: {variant})".strip()
        ratio = tms / oms if oms else None
        if ratio:
            ratios.setdefault(pname, []).append(ratio)
        print(f"{name:26} {batch if batch else '-':>5}  {pname:11} {tms:10.3f} "
              f"{oms if oms else float('nan'):10.3f} "
              f"{ratio if ratio else float('nan'):7.3f}  {note}")

    def gmean(v):
        return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")

    order = ["fwd", "bwd_data", "bwd_weights", "bwd", "step"]
    parts = [f"{p} {gmean(ratios[p]):.3f} ({len(ratios[p])})" for p in order if p in ratios]
    everything = [x for v in ratios.values() for x in v]
    parts.append(f"overall {gmean(everything):.3f} ({len(everything)})")
    print()
    print("geometric mean of torch/oclnn ratios: " + ", ".join(parts))


# ---- training ---------------------------------------------------------------------------------

def build_model(torch, name):
    nn = torch.nn
    F = torch.nn.functional

    class LayerNorm2d(nn.Module):
        """ConvNeXt's channels-first LayerNorm: normalise over C at each position."""

        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(c))
            self.bias = nn.Parameter(torch.zeros(c))
            self.eps = eps

        def forward(self, x):
            x = x.permute(0, 2, 3, 1)
            x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.proj = None
            if stride != 1 or cin != cout:
                self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + (self.proj(x) if self.proj is not None else x))

    class ConvNeXtBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.dw = nn.Conv2d(c, c, 7, 1, 3, groups=c)
            self.norm = LayerNorm2d(c)
            self.pw1 = nn.Conv2d(c, 4 * c, 1)
            self.pw2 = nn.Conv2d(4 * c, c, 1)
            self.gamma = nn.Parameter(torch.full((c,), 1e-6))

        def forward(self, x):
            y = self.pw2(F.gelu(self.pw1(self.norm(self.dw(x)))))
            return x + self.gamma.view(1, -1, 1, 1) * y

    if name == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "resnet":
        layers = [nn.Conv2d(1, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
        cin = 32
        for i, width in enumerate((32, 64, 128)):
            layers += [BasicBlock(cin, width, 1 if i == 0 else 2), BasicBlock(width, width, 1)]
            cin = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)]
        return nn.Sequential(*layers)
    layers = [nn.Conv2d(1, 32, 2, 2), LayerNorm2d(32)]
    widths = (32, 64, 128)
    for i, width in enumerate(widths):
        if i > 0:
            layers += [LayerNorm2d(widths[i - 1]), nn.Conv2d(widths[i - 1], width, 2, 2)]
        layers += [ConvNeXtBlock(width), ConvNeXtBlock(width)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(128, eps=1e-6),
               nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def train(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = args.batch or (64 if args.model == "lenet" else 128)
    model = build_model(torch, args.model)
    model.train()
    if args.model == "lenet":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    elif args.model == "resnet":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    data = [(torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))) for _ in range(4)]
    params = sum(p.numel() for p in model.parameters())
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {alloc_note()}; "
          f"{args.model}: {params} parameters, batch {batch}, {args.steps} timed steps after 3 "
          "untimed", flush=True)
    load_warning(args.threads)

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    seconds = time.perf_counter() - t0
    torch_ips = args.steps * batch / seconds
    print(f"torch: {torch_ips:.1f} images/s ({1e3 * seconds / args.steps:.2f} ms/step, "
          f"last loss {loss.item():.4f})", flush=True)

    if not args.oclnn_train:
        return
    if not (os.path.isfile(args.oclnn_train) and os.access(args.oclnn_train, os.X_OK)):
        print(f"oclnn-train not found at {args.oclnn_train}: skipped")
        return
    # oclnn-train times the steps after its first (kernel compilation). To time the same
    # steady-state steps as PyTorch: one run fills the kernel caches, then runs of WARM and
    # WARM + steps steps; the difference of their training times is `steps` warm steps.
    warm = 3
    runs = []
    for steps in (1, warm, warm + args.steps):
        cmd = [args.oclnn_train, "--model", args.model, "--steps", str(steps), "--batch",
               str(batch), "--synthetic"]
        print("running " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=child_env())
        m = re.findall(r"([0-9.]+) training images/s over ([0-9]+) images", proc.stdout)
        if proc.returncode != 0 or not m:
            tail = "\n".join(proc.stdout.splitlines()[-10:])
            print(f"oclnn-train exited with status {proc.returncode}"
                  f"{'' if m else ' without its training images/s line'}:\n{tail}")
            return
        rate, images = float(m[-1][0]), int(m[-1][1])
        runs.append((images / rate if rate > 0 else float("nan"), images, rate))
    (t1, n1, _), (t2, n2, own) = runs[1], runs[2]
    if t2 > t1:
        oclnn_ips = (n2 - n1) / (t2 - t1)
        how = f"steps {warm + 1}..{warm + args.steps} (runs of {warm} and {warm + args.steps})"
    else:
        oclnn_ips = own
        how = "its own figure (the two-run difference was not positive)"
    print(f"oclnn: {oclnn_ips:.1f} images/s over {how}; oclnn-train's own figure, steps 2.."
          f"{warm + args.steps}: {own:.1f} images/s")
    print(f"ratio = torch time / oclnn time = {oclnn_ips / torch_ips:.3f} "
          "(1.0 = as fast as PyTorch)")


def main():
    args = parse_args()
    preload_tcmalloc()
    if args.cmd == "train":
        train(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
