# PyTorch reference of dinotrain's DINO training step, for bench/train.ts (which starts it as a child process).
#
#   python3 bench/torch_dino_step.py --serve [--batch 32 --global-size 96 --local-size 48 --local-crops 6 ...]
#       prints one JSON line {"ready": ...}, then for every "step" line on stdin runs one step and prints
#       {"ms": total, "teacher": ms, "student": ms, "optim": ms, "loss": value}; "quit" (or EOF) ends it.
#   python3 bench/torch_dino_step.py --steps 10 [...]   runs standalone and prints per-step timings.
#
# The step is what dinotrain's trainer does for DINO (and what facebookresearch/dino's main_dino.py does):
# teacher forward (no grad) on the global crops -> student forward on all crops (one backbone call per resolution,
# as MultiCropWrapper) -> DINO loss -> backward -> clip_grad_norm_ (global, 3.0) -> AdamW -> EMA teacher + center.
# ViT-T/16 as timm's VisionTransformer (pos_embed stored for 224 px, bicubic-interpolated per crop size as DINO
# does), DINO head 192-2048-2048-256 -> weight-normalised K prototypes (weight_g fixed at 1). Synthetic inputs.
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rss_mib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = ((q * (D // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, dim=192, depth=12, heads=3, patch=16, img=224):
        super().__init__()
        self.patch = patch
        self.side = img // patch
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.side ** 2, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def pos(self, rows, cols):
        if rows == self.side and cols == self.side:
            return self.pos_embed
        D = self.pos_embed.shape[-1]
        grid = self.pos_embed[:, 1:].reshape(1, self.side, self.side, D).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(rows, cols), mode='bicubic', align_corners=False)
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, D)], 1)

    def forward(self, x):
        B = x.shape[0]
        rows, cols = x.shape[2] // self.patch, x.shape[3] // self.patch
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], 1) + self.pos(rows, cols)
        for b in self.blocks:
            x = b(x)
        return self.norm(x[:, 0])  # LayerNorm is per token: norm(x)[:, 0] == norm(x[:, 0])


class DinoHead(nn.Module):
    def __init__(self, dim, out_dim, hidden=2048, bottleneck=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.weight_v = nn.Parameter(torch.empty(out_dim, bottleneck).uniform_(-bottleneck ** -0.5, bottleneck ** -0.5))

    def forward(self, x):
        z = F.normalize(self.mlp(x), dim=-1)
        return z @ (self.weight_v / self.weight_v.norm(dim=1, keepdim=True)).t()


class Net(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.backbone = ViT(patch=a.patch)
        self.head = DinoHead(192, a.out_dim)

    def forward(self, crops):
        # MultiCropWrapper: one backbone call per run of same-size crops, one head call over all class tokens
        feats, i = [], 0
        while i < len(crops):
            j = i
            while j < len(crops) and crops[j].shape[-1] == crops[i].shape[-1]:
                j += 1
            feats.append(self.backbone(torch.cat(crops[i:j])))
            i = j
        return self.head(torch.cat(feats))


class DinoStep:
    def __init__(self, a):
        torch.manual_seed(0)
        self.a = a
        self.student = Net(a)
        self.teacher = Net(a)
        self.teacher.load_state_dict(self.student.state_dict())
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        decay = [p for n, p in self.student.named_parameters() if p.ndim > 1 and 'token' not in n and 'pos_embed' not in n]
        other = [p for n, p in self.student.named_parameters() if not (p.ndim > 1 and 'token' not in n and 'pos_embed' not in n)]
        self.opt = torch.optim.AdamW([{'params': decay}, {'params': other, 'weight_decay': 0.0}], lr=5e-4 * a.batch / 256, weight_decay=0.04)
        self.center = torch.zeros(1, a.out_dim)
        B = a.batch
        self.globals = [torch.randn(B, 3, a.global_size, a.global_size) for _ in range(2)]
        self.locals = [torch.randn(B, 3, a.local_size, a.local_size) for _ in range(a.local_crops)]
        self.n_params = sum(p.numel() for p in self.student.parameters())

    def step(self):
        a = self.a
        c0 = time.process_time()
        t0 = time.perf_counter()
        with torch.no_grad():
            t = self.teacher(self.globals)
            q = F.softmax((t - self.center) / 0.04, dim=-1).chunk(2)
        t1 = time.perf_counter()
        s = (self.student(self.globals + self.locals) / 0.1).chunk(2 + a.local_crops)
        total, terms = 0.0, 0
        for iq, qi in enumerate(q):
            for v, sv in enumerate(s):
                if v == iq:
                    continue
                total = total + torch.sum(-qi * F.log_softmax(sv, dim=-1), dim=-1).mean()
                terms += 1
        loss = total / terms
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(self.student.parameters(), 3.0)
        self.opt.step()
        with torch.no_grad():
            m = 0.996
            for ps, pt in zip(self.student.parameters(), self.teacher.parameters()):
                pt.mul_(m).add_(ps.detach(), alpha=1 - m)
            self.center.mul_(0.9).add_(t.mean(0, keepdim=True), alpha=0.1)
        t3 = time.perf_counter()
        ms = lambda x: round(x * 1000, 2)
        cpu = time.process_time() - c0
        return {'ms': ms(t3 - t0), 'phases': {'teacher': ms(t1 - t0), 'student': ms(t2 - t1), 'optim': ms(t3 - t2)},
                'loss': loss.item(), 'cpuShare': cpu / (t3 - t0), 'rssMiB': rss_mib(),
                'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--serve', action='store_true')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--global-size', type=int, default=96)
    p.add_argument('--local-size', type=int, default=48)
    p.add_argument('--local-crops', type=int, default=6)
    p.add_argument('--out-dim', type=int, default=4096)
    p.add_argument('--patch', type=int, default=16)
    p.add_argument('--threads', type=int, default=0, help='0: torch default (all cores)')
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    step = DinoStep(a)
    info = {'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'params': step.n_params}
    if a.serve:
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            if line.strip() == 'quit':
                break
            print(json.dumps(step.step()), flush=True)
        return
    print(json.dumps(info), flush=True)
    for _ in range(a.steps):
        print(json.dumps(step.step()), flush=True)


if __name__ == '__main__':
    main()
