# The GEMMs of bench/gemm.ts in PyTorch (MKL): prints one JSON line {name: median ms} per call of run().
# Usage: python gemm_torch.py THREADS REPEATS  (reads nothing; shapes must match bench/gemm.ts)
import json, sys, time
import torch

SHAPES = [  # name, M, K, N, transA, transB, bias: ViT-T/16 MLP and attention-projection GEMMs of a DINO step
    ("fc1 forward (bias)", 2368, 192, 768, 0, 1, 1),
    ("fc1 forward", 2368, 192, 768, 0, 1, 0),
    ("fc2 forward (bias)", 2368, 768, 192, 0, 1, 1),
    ("fc1 input grad", 2368, 768, 192, 0, 0, 0),
    ("fc1 weight grad", 768, 2368, 192, 1, 0, 0),
]
threads, repeats = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
out = {}
for name, M, K, N, tA, tB, bias in SHAPES:
    a = torch.full((K, M) if tA else (M, K), 0.01)
    b = torch.full((N, K) if tB else (K, N), 0.02)
    c = torch.ones(N)
    A, B = (a.t() if tA else a), (b.t() if tB else b)
    f = (lambda: torch.addmm(c, A, B)) if bias else (lambda: torch.mm(A, B))
    for _ in range(3):
        f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t) * 1000)
    out[name] = sorted(ts)[len(ts) // 2]
print(json.dumps({"torch": torch.__version__, "ms": out}))
