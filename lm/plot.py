"""The loss curve PNG a person looks at to see whether training is going well."""
from __future__ import annotations

import json
from pathlib import Path


def plot_loss(log_path: Path, png_path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = [], []
    for line in Path(log_path).read_text().splitlines():
        rec = json.loads(line)
        if "loss" in rec:
            train.append((rec["step"], rec["loss"]))
        if "val_loss" in rec:
            val.append((rec["step"], rec["val_loss"]))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train", linewidth=0.8, alpha=0.7)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", linewidth=1.5, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(f"{Path(log_path).parent.name}: training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
