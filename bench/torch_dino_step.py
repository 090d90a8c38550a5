# PyTorch reference of dinotrain's training steps (DINO, DINOv2, SimCLR), for bench/train.ts (which starts it as a
# child process and interleaves it step by step with dinotrain).
#
#   python bench/torch_dino_step.py --serve [--method dino] [--batch 32 --global-size 96 --local-size 48 ...]
#       prints one JSON line {"ready": ...}, then for every "step" line on stdin runs one step and prints
#       {"ms": total, "phases": {...}, "loss": value, "cpuShare": ..., "rssMiB": ..., "maxRssMiB": ...};
#       "quit" (or EOF) ends it. BENCH_THREADS=n in the environment overrides --threads.
#   python bench/torch_dino_step.py --steps 10 [...]   runs standalone and prints the same lines.
#
# Each step is what dinotrain's trainer does for the method, with synthetic inputs:
# - dino (facebookresearch/dino main_dino.py): teacher forward (no grad) on the global crops -> student forward on
#   all crops (one backbone call per crop size, as MultiCropWrapper) -> DINO loss -> backward -> clip_grad_norm_
#   (global, 3.0) -> AdamW -> EMA teacher + center. ViT as timm's VisionTransformer (pos_embed stored for 224 px,
#   bicubic-interpolated per crop size as DINO does), DINO head dim-2048-2048-256 -> weight-normalised K prototypes.
# - dinov2 (facebookresearch/dinov2 ssl_meta_arch.py, shared head): as dino plus iBOT on masked patch tokens (half
#   the global crops masked, 10-50 % of patches, mask token), KoLeo on the global class tokens, LayerScale 1e-5, drop path 0.1,
#   layer-wise lr decay groups, EMA 0.992, softmax centering of class and patch targets.
# - simclr: ResNet-18 (torchvision layout) on 2 views, projection head Linear-BN-ReLU-Linear (2048, 128), NT-Xent
#   (tau 0.1), SGD momentum 0.9.
import argparse
import json
import math
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


# ------------------------------------------------------------------------------------------------ ViT

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


def drop_path(x, rate, training):
    if rate == 0 or not training:
        return x
    keep = (torch.rand(x.shape[0], 1, 1) >= rate).to(x.dtype) / (1 - rate)
    return x * keep


class Block(nn.Module):
    def __init__(self, dim, heads, drop=0.0, layer_scale=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.drop = drop
        # LayerScale (DINOv2): each branch times a trainable per-channel gamma
        self.ls1 = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale else None
        self.ls2 = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale else None

    def forward(self, x):
        a = self.attn(self.norm1(x))
        x = x + drop_path(a * self.ls1 if self.ls1 is not None else a, self.drop, self.training)
        m = self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x + drop_path(m * self.ls2 if self.ls2 is not None else m, self.drop, self.training)


class ViT(nn.Module):
    def __init__(self, dim, depth, heads, patch, img=224, mask_token=False, drop=0.0, layer_scale=None):
        super().__init__()
        self.patch = patch
        self.side = img // patch
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.side ** 2, dim) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, dim)) if mask_token else None
        self.blocks = nn.ModuleList([Block(dim, heads, drop, layer_scale) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def pos(self, rows, cols):
        if rows == self.side and cols == self.side:
            return self.pos_embed
        D = self.pos_embed.shape[-1]
        grid = self.pos_embed[:, 1:].reshape(1, self.side, self.side, D).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(rows, cols), mode='bicubic', align_corners=False)
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, D)], 1)

    def tokens(self, x, masks=None):
        """All tokens after the final norm [B, 1+T, D]."""
        B = x.shape[0]
        rows, cols = x.shape[2] // self.patch, x.shape[3] // self.patch
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        if masks is not None:
            x = torch.where(masks.unsqueeze(-1), self.mask_token.to(x.dtype).unsqueeze(0), x)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], 1) + self.pos(rows, cols)
        for b in self.blocks:
            x = b(x)
        return self.norm(x)

    def forward(self, x):
        return self.tokens(x)[:, 0]


class DinoHead(nn.Module):
    def __init__(self, dim, out_dim, hidden=2048, bottleneck=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.weight_v = nn.Parameter(torch.empty(out_dim, bottleneck).uniform_(-bottleneck ** -0.5, bottleneck ** -0.5))

    def forward(self, x):
        z = F.normalize(self.mlp(x), dim=-1)
        return z @ (self.weight_v / self.weight_v.norm(dim=1, keepdim=True)).t()


VIT = {'vit-tiny/16': (192, 12, 3, 16), 'vit-small/14': (384, 12, 6, 14), 'vit-small/16': (384, 12, 6, 16)}


def decay_split(named):
    decay = [p for n, p in named if p.ndim > 1 and 'token' not in n and 'pos_embed' not in n]
    other = [p for n, p in named if not (p.ndim > 1 and 'token' not in n and 'pos_embed' not in n)]
    return decay, other


def ema(student, teacher, m):
    with torch.no_grad():
        for ps, pt in zip(student.parameters(), teacher.parameters()):
            pt.mul_(m).add_(ps.detach(), alpha=1 - m)


def backward_and_update(loss, opt, student, teacher, momentum):
    """DINO and DINOv2's update as their reference code writes it: backward, clip 3.0, optimizer, EMA teacher.
    Returns the time the backward ended (the student phase), for the timing split."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    t = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(student.parameters(), 3.0)
    opt.step()
    ema(student, teacher, momentum)
    return t


def dino_cross(q, s, n_global):
    total, terms = 0.0, 0
    for iq, qi in enumerate(q):
        for v, sv in enumerate(s):
            if v == iq and iq < n_global:
                continue
            total = total + torch.sum(-qi * F.log_softmax(sv, dim=-1), dim=-1).mean()
            terms += 1
    return total / terms


class DinoNet(nn.Module):
    def __init__(self, a, mask_token=False, drop=0.0, layer_scale=None):
        super().__init__()
        dim, depth, heads, patch = VIT[a.model]
        self.backbone = ViT(dim, depth, heads, patch, mask_token=mask_token, drop=drop, layer_scale=layer_scale)
        self.head = DinoHead(dim, a.out_dim)

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


def crops(a):
    B = a.batch
    g = [torch.randn(B, 3, a.global_size, a.global_size) for _ in range(2)]
    l = [torch.randn(B, 3, a.local_size, a.local_size) for _ in range(a.local_crops)]
    return g, l


class DinoStep:
    def __init__(self, a):
        torch.manual_seed(0)
        self.a = a
        self.student = DinoNet(a)
        self.teacher = DinoNet(a)
        self.teacher.load_state_dict(self.student.state_dict())
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        decay, other = decay_split(self.student.named_parameters())
        self.opt = torch.optim.AdamW([{'params': decay}, {'params': other, 'weight_decay': 0.0}], lr=5e-4 * a.batch / 256, weight_decay=0.04)
        self.center = torch.zeros(1, a.out_dim)
        self.globals, self.locals = crops(a)

    def step(self):
        a = self.a
        t0 = time.perf_counter()
        with torch.no_grad():
            t = self.teacher(self.globals)
            q = F.softmax((t - self.center) / 0.04, dim=-1).chunk(2)
        t1 = time.perf_counter()
        s = (self.student(self.globals + self.locals) / 0.1).chunk(2 + a.local_crops)
        loss = dino_cross(q, s, 2)
        t2 = backward_and_update(loss, self.opt, self.student, self.teacher, 0.996)
        with torch.no_grad():
            self.center.mul_(0.9).add_(t.mean(0, keepdim=True), alpha=0.1)
        t3 = time.perf_counter()
        return loss, {'teacher': t1 - t0, 'student': t2 - t1, 'optim': t3 - t2}


class Dinov2Step:
    def __init__(self, a):
        torch.manual_seed(0)
        self.a = a
        self.student = DinoNet(a, mask_token=True, drop=0.1, layer_scale=1e-5)
        self.teacher = DinoNet(a, mask_token=True, layer_scale=1e-5)
        self.teacher.load_state_dict(self.student.state_dict())
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        # layer-wise lr decay 0.9 (patch embed x0.2) as parameter groups, weight decay only on matrices
        depth = len(self.student.backbone.blocks)
        groups = {}
        for n, p in self.student.named_parameters():
            layer = depth + 1
            if n.startswith('backbone.'):
                layer = int(n.split('.')[2]) + 1 if '.blocks.' in n else (depth + 1 if '.norm.' in n else 0)
            scale = 0.9 ** (depth + 1 - layer) * (0.2 if 'patch_embed' in n else 1.0)
            wd = 0.04 if (p.ndim > 1 and 'token' not in n and 'pos_embed' not in n) else 0.0
            groups.setdefault((scale, wd), []).append(p)
        base = 0.004 * math.sqrt(a.batch / 1024)
        self.opt = torch.optim.AdamW([{'params': ps, 'lr': base * s, 'weight_decay': wd} for (s, wd), ps in groups.items()], lr=base)
        self.center_cls = torch.zeros(1, a.out_dim)
        self.center_patch = torch.zeros(1, a.out_dim)
        self.globals, self.locals = crops(a)
        side = a.global_size // VIT[a.model][3]
        g = torch.Generator().manual_seed(1)
        B = a.batch
        masks = torch.zeros(2 * B, side * side, dtype=torch.bool)
        for i in range(B):  # half of the global crops masked, ratios spread over 0.1..0.5
            ratio = 0.1 + 0.4 * i / B
            masks[i] = torch.rand(side * side, generator=g) < ratio
        self.masks = masks[torch.randperm(2 * B, generator=g)]
        per_image = self.masks.sum(1, keepdim=True).clamp(min=1)
        self.mask_weight = (1.0 / per_image).expand_as(self.masks)[self.masks]

    def step(self):
        a = self.a
        B = a.batch
        t0 = time.perf_counter()
        gl = torch.cat(self.globals)
        with torch.no_grad():
            tok = self.teacher.backbone.tokens(gl)
            t_cls = self.teacher.head(tok[:, 0])
            t_patch = self.teacher.head(tok[:, 1:][self.masks])
            q = F.softmax((t_cls - self.center_cls) / 0.04, dim=-1).chunk(2)
            qp = F.softmax((t_patch - self.center_patch) / 0.04, dim=-1)
        t1 = time.perf_counter()
        s_tok = self.student.backbone.tokens(gl, self.masks.reshape(2 * B, -1))
        s_loc = self.student.backbone(torch.cat(self.locals))
        s_cls = self.student.head(torch.cat([s_tok[:, 0], s_loc])) / 0.1
        dino = dino_cross(q, s_cls.chunk(2 + a.local_crops), 2)
        s_patch = self.student.head(s_tok[:, 1:][self.masks]) / 0.1
        ibot = -(torch.sum(qp * F.log_softmax(s_patch, -1), -1) * self.mask_weight).sum() / (2 * B)
        koleo = 0.0
        for c in s_tok[:, 0].chunk(2):
            x = F.normalize(c, eps=1e-8, dim=-1)
            with torch.no_grad():
                dots = x @ x.t()
                dots.view(-1)[:: x.shape[0] + 1].fill_(-1)
                nn_idx = dots.max(dim=1).indices
            koleo = koleo - torch.log(F.pairwise_distance(x, x[nn_idx], eps=1e-8) + 1e-8).mean()
        loss = dino + ibot + 0.1 * koleo
        t2 = backward_and_update(loss, self.opt, self.student, self.teacher, 0.992)
        with torch.no_grad():
            self.center_cls.mul_(0.9).add_(t_cls.mean(0, keepdim=True), alpha=0.1)
            self.center_patch.mul_(0.9).add_(t_patch.mean(0, keepdim=True), alpha=0.1)
        t3 = time.perf_counter()
        return loss, {'teacher': t1 - t0, 'student': t2 - t1, 'optim': t3 - t2}


# ------------------------------------------------------------------------------------------------ SimCLR

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layers(x).mean((2, 3))


class SimclrStep:
    def __init__(self, a):
        torch.manual_seed(0)
        self.a = a
        self.net = nn.Sequential(ResNet18(), nn.Linear(512, 2048, bias=False), nn.BatchNorm1d(2048), nn.ReLU(), nn.Linear(2048, 128))
        decay = [p for p in self.net.parameters() if p.ndim > 1]
        other = [p for p in self.net.parameters() if p.ndim <= 1]
        self.opt = torch.optim.SGD([{'params': decay}, {'params': other, 'weight_decay': 0.0}], lr=0.3 * a.batch / 256, momentum=0.9, weight_decay=1e-6)
        self.views = torch.randn(2 * a.batch, 3, a.global_size, a.global_size)

    def step(self):
        t0 = time.perf_counter()
        z = F.normalize(self.net(self.views), dim=-1)
        n = z.shape[0] // 2
        logits = (z @ z.t()) / 0.1
        logits.fill_diagonal_(-1e9)
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        loss = F.cross_entropy(logits, target)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        t1 = time.perf_counter()
        self.opt.step()
        t2 = time.perf_counter()
        return loss, {'student': t1 - t0, 'optim': t2 - t1}


STEPS = {'dino': DinoStep, 'dinov2': Dinov2Step, 'simclr': SimclrStep}


def timed(step):
    c0 = time.process_time()
    t0 = time.perf_counter()
    loss, phases = step.step()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {'ms': round(wall * 1000, 2), 'phases': {k: round(v * 1000, 2) for k, v in phases.items()}, 'loss': loss.item(),
            'cpuShare': cpu / wall, 'rssMiB': rss_mib(), 'maxRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--serve', action='store_true')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--method', default='dino', choices=sorted(STEPS))
    p.add_argument('--model', default='')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--global-size', type=int, default=96)
    p.add_argument('--local-size', type=int, default=48)
    p.add_argument('--local-crops', type=int, default=6)
    p.add_argument('--out-dim', type=int, default=4096)
    p.add_argument('--threads', type=int, default=0, help='0: torch default (all cores)')
    a = p.parse_args()
    a.model = a.model or {'dino': 'vit-tiny/16', 'dinov2': 'vit-small/14', 'simclr': 'resnet18'}[a.method]
    a.threads = int(os.environ.get('BENCH_THREADS', a.threads))  # bench/train.ts --torch-variant name:BENCH_THREADS=1
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    step = STEPS[a.method](a)
    params = sum(p.numel() for p in (step.net if a.method == 'simclr' else step.student).parameters())
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'params': params}), flush=True)
    if a.serve:
        for line in sys.stdin:
            if line.strip() != 'step':
                break
            print(json.dumps(timed(step)), flush=True)
        return
    for _ in range(a.steps):
        print(json.dumps(timed(step)), flush=True)


if __name__ == '__main__':
    main()
