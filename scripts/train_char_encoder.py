"""Train fuzzykv's CharEncoder: a word's spelling -> its GloVe 6B 50d vector.

    python scripts/train_char_encoder.py [--epochs 10] [--words 30000] [--typos 3]

Trains on the GloVe vocabulary itself (alphabetic words of the most frequent ``--words``; 2% held
out), with cosine loss plus a small loss on the vector's length, and writes
fuzzykv/data/char_encoder.pt (float16 weights). Each epoch also shows ``--typos`` fresh one-edit
misspellings of every word (a letter deleted, inserted, replaced or swapped) with the word's own
vector as the target, so a misspelling lands where its word is. Seeded: a rerun gives the same model.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from fuzzykv.embed.encoders import WEIGHTS, CharEncoder, misspell, spell
from fuzzykv.embed.loading import load_embeddings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--typos", type=int, default=3)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    glove = load_embeddings()
    rows = [i for i, w in enumerate(glove.words[: args.words]) if w.isalpha() and 2 <= len(w) <= 24]
    random.shuffle(rows)
    held = rows[: len(rows) // 50]
    train = rows[len(rows) // 50 :]
    words = glove.words
    clean = [words[i] for i in train]
    clean_targets = torch.from_numpy(np.array(glove.vectors[train]))
    model = CharEncoder(dim=glove.dim)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    per_epoch = len(train) * (1 + args.typos)
    steps = args.epochs * ((per_epoch + args.batch - 1) // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    rng = random.Random(1)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        spellings = clean + [misspell(w, rng) for _ in range(args.typos) for w in clean]
        ids = spell(spellings)
        targets = clean_targets.repeat(1 + args.typos, 1)
        order = torch.randperm(len(spellings))
        total = 0.0
        model.train()
        for first in range(0, len(spellings), args.batch):
            batch = order[first : first + args.batch]
            predicted = model.from_ids(ids[batch])
            target = targets[batch]
            cosine = torch.nn.functional.cosine_similarity(predicted, target, dim=1)
            length = (predicted.norm(dim=1) - target.norm(dim=1)) ** 2
            loss = (1 - cosine).mean() + 0.01 * length.mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            predicted = model([words[i] for i in held])
            held_cosine = torch.nn.functional.cosine_similarity(
                predicted, torch.from_numpy(np.array(glove.vectors[held])), dim=1).mean()
        print(f"epoch {epoch + 1}: loss {total / len(spellings):.4f}, held-out cosine {float(held_cosine):.3f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    model.save(WEIGHTS)
    print(f"wrote {WEIGHTS} ({WEIGHTS.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
