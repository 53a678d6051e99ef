#!/usr/bin/python3
"""PyTorch half of bench/train-speed: the same small CNN, data and batch size as the edgecam half.

Prints one JSON line on stdout: {"ips", "epoch_seconds", "threads", "torch"}. Run with Debian's /usr/bin/python3 and
python3-torch; the edgecam wrapper passes the sizes so both sides train the same thing.
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def build_model(size: int) -> nn.Module:
    # Same shapes as the tfjs model: 'valid' 3x3 convs, 2x2 max-pools, NHWC flatten order does not matter for speed.
    flat = (((size - 2) // 2 - 2) // 2) ** 2 * 64
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--samples', type=int, default=1024)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--warmup-epochs', type=int, default=1)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--data-dir', help='images.f32 (N,H,W,3 float32) and labels.i32 written by the edgecam half')
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.data_dir:
        # The very images the edgecam half trained on, NHWC on disk, NCHW for PyTorch.
        import numpy as np
        nhwc = np.fromfile(f'{args.data_dir}/images.f32', dtype=np.float32)
        images = torch.from_numpy(nhwc.reshape(args.samples, args.size, args.size, 3)).permute(0, 3, 1, 2).contiguous()
        labels = torch.from_numpy(np.fromfile(f'{args.data_dir}/labels.i32', dtype=np.int32).astype(np.int64))
    else:
        # Same recipe as the edgecam half: class 1 images are brighter.
        labels = torch.randint(0, 2, (args.samples,))
        images = torch.rand(args.samples, 3, args.size, args.size) * 0.5 + labels.view(-1, 1, 1, 1) * 0.5
    model = build_model(args.size)
    # CrossEntropyLoss on logits == softmax + categorical cross-entropy on the tfjs side.
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def epoch() -> float:
        model.train()
        order = torch.randperm(args.samples)
        last = 0.0
        for start in range(0, args.samples, args.batch_size):
            idx = order[start:start + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(images[idx]), labels[idx])
            loss.backward()
            optimizer.step()
            last = float(loss)
        return last

    for _ in range(args.warmup_epochs):
        epoch()
    started = time.perf_counter()
    cpu_started = time.process_time()
    loss = 0.0
    for _ in range(args.epochs):
        loss = epoch()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    print(json.dumps({
        'ips': args.samples * args.epochs / seconds,
        # Images per CPU-second (all threads): comparable across runs on a machine others are loading too.
        'cpu_ips': args.samples * args.epochs / cpu_seconds,
        'epoch_seconds': seconds / args.epochs,
        'threads': torch.get_num_threads(),
        'torch': torch.__version__,
        'final_loss': loss,
    }))


if __name__ == '__main__':
    main()
