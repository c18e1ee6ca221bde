"""Store a trained sequence model's penultimate-layer vectors in fuzzykv and classify new inputs.

    python examples/sequence_classifier.py

A small GRU learns, on data this script makes, to tell four shapes of number sequence apart
(rising, falling, flat, zigzag). Its penultimate layer then serves as a fuzzykv encoder: the
training sequences are stored as text -> shape, and new sequences are classified by the
k-nearest-neighbour rule over the stored vectors (`Database.classify`), and looked up by attention.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from fuzzykv import Database

SHAPES = ("rising", "falling", "flat", "zigzag")
LENGTH = 10


def make_sequence(shape: str, rng: random.Random) -> list[int]:
    start, step = rng.randint(0, 50), rng.randint(1, 5)
    if shape == "rising":
        values = [start + step * i for i in range(LENGTH)]
    elif shape == "falling":
        values = [start + 50 - step * i for i in range(LENGTH)]
    elif shape == "flat":
        values = [start] * LENGTH
    else:
        values = [start + step * 3 * (i % 2) for i in range(LENGTH)]
    return [v + rng.randint(-1, 1) for v in values]  # a little noise


def as_text(sequence: list[int]) -> str:
    return " ".join(str(v) for v in sequence)


class SequenceModel(nn.Module):
    """Differences of the sequence -> GRU -> a 16-d penultimate layer -> shape logits."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size=1, hidden_size=32, batch_first=True)
        self.penultimate = nn.Sequential(nn.Linear(32, 16), nn.Tanh())
        self.classify = nn.Linear(16, len(SHAPES))

    def features(self, sequences: torch.Tensor) -> torch.Tensor:
        steps = (sequences[:, 1:] - sequences[:, :-1]).unsqueeze(-1) / 10
        _, hidden = self.gru(steps)
        return self.penultimate(hidden[-1])

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(sequences))


class PenultimateEncoder(nn.Module):
    """fuzzykv's encoder convention: forward takes a list of texts, returns an (n, dim) tensor.

    A store embeds keys, values and queries in one space: a sequence is its penultimate-layer
    vector, and a shape's name is its class prototype, the mean vector of its training sequences.
    """

    def __init__(self, model: SequenceModel, prototypes: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.prototypes = prototypes

    def forward(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            if text in self.prototypes:
                rows.append(self.prototypes[text])
            else:
                sequence = torch.tensor([[float(v) for v in text.split()]])
                rows.append(self.model.features(sequence)[0])
        return torch.stack(rows)


def train(model: SequenceModel, data: list[tuple[list[int], int]]) -> None:
    inputs = torch.tensor([s for s, _ in data], dtype=torch.float32)
    labels = torch.tensor([y for _, y in data])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimiser.step()


def main() -> float:
    rng = random.Random(0)
    torch.manual_seed(0)
    training = [(make_sequence(shape, rng), label) for label, shape in enumerate(SHAPES) for _ in range(100)]
    model = SequenceModel()
    train(model, training)
    with torch.no_grad():
        features = model.features(torch.tensor([s for s, _ in training], dtype=torch.float32))
    labels = torch.tensor([y for _, y in training])
    prototypes = {shape: features[labels == y].mean(dim=0) for y, shape in enumerate(SHAPES)}

    db = Database({as_text(s): SHAPES[y] for s, y in training}, encoder=PenultimateEncoder(model, prototypes))
    tests = [(make_sequence(shape, rng), shape) for shape in SHAPES for _ in range(25)]
    hits = sum(db.classify(as_text(s), k=5).label == shape for s, shape in tests)
    accuracy = hits / len(tests)

    example = as_text(make_sequence("zigzag", rng))
    verdict = db.classify(example, k=5)
    print(f"stored {len(db)} training sequences as vectors of the model's penultimate layer")
    print(f"{example!r}: classify -> {verdict.label} {[(label, round(s, 2)) for label, s in verdict.scores]}")
    print(f"{example!r}: query -> {db.query(example, k=2)}, lookup -> {db.lookup(example)}")
    print(f"classify accuracy on {len(tests)} new sequences: {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
