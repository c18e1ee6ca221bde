"""Every option of a store, declared once: name, type, default and check.

``Database``, ``Database.open``, the command line and the HTTP service all take a
:class:`Settings`; a store file keeps the settings that shape its answers, so a reopened store
answers exactly as the one that wrote it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict, get_args

from .errors import InvalidOptionError

Similarity = Literal["cosine", "dot"]
AttendTo = Literal["all", "index"]
Answers = Literal["vocabulary", "values"]
Unknown = Literal["error", "correct", "chars"]

SIMILARITIES: tuple[str, ...] = get_args(Similarity)
ATTEND_TO: tuple[str, ...] = get_args(AttendTo)
ANSWERS: tuple[str, ...] = get_args(Answers)
UNKNOWN: tuple[str, ...] = get_args(Unknown)

#: Per similarity: dot's 1.0 keeps the write-up's raw dot-product scores.
DEFAULT_TEMPERATURES: dict[str, float] = {"cosine": 0.03, "dot": 1.0}
#: With cosine attention, how much a key's score counts its value's own similarity to the query.
#: The temperature 0.03 and this weight were chosen on held-out splits of three category sources
#: (benchmarks/categories.py, figures in README.md); dot attention, the write-up's, has no value term.
DEFAULT_VALUE_WEIGHT = 1.0
#: With cosine attention, how far each key's direction moves toward its value's before scoring
#: (fuzzykv/rule.py). Off by default: it gains on small stores of categories but loses on stores
#: with many unrelated pairs (benchmarks/categories.py, issue 24). A store saved without the
#: option takes this default, so keep 0 here unless stores saved before are given 0 on reading.
DEFAULT_KEY_VALUE_MIX = 0.0

#: Chosen on decoded vectors of random stores (benchmarks/annoy_recall.py): recall@5 against
#: exact >= 0.95 with margin, as tests/test_decode.py checks.
DEFAULT_N_TREES = 20
DEFAULT_SEARCH_K = 10_000
#: Keys attended to through the key index; chosen with benchmarks/store_size.py.
DEFAULT_ATTEND_TOP = 128

#: Options renamed so that each word means one thing; the old names work for one release.
DEPRECATED: dict[str, str] = {"attention": "attend_to", "attention_candidates": "attend_top", "candidates": "answers"}
_OLD_ATTENTION = {"full": "all", "topk": "index"}


def _choice(allowed: tuple[str, ...]) -> Any:
    def check(name: str, value: object) -> object:
        if value not in allowed:
            raise InvalidOptionError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value

    return check


def positive_int(name: str, value: object) -> int:
    """``value`` if it is a whole number of at least 1, else an ``InvalidOptionError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name} must be a positive whole number, got {value!r}")
    return value


def _optional_positive_int(name: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionError(f"{name} must be a positive whole number (the N most frequent words) or None, got {value!r}")
    return value


def _temperature(name: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionError(f"{name} must be a positive number, got {value!r}")
    if not 0 < value < math.inf:
        raise InvalidOptionError(f"{name} must be a positive finite number, got {value!r}")
    # Scores are cosines (at most 1) over the temperature; below this, float32 exp() of the score
    # differences underflows for every key but the closest and attention is a hard argmax.
    if value < 1e-6:
        raise InvalidOptionError(f"{name} must be at least 1e-06 (smaller is a hard nearest-key rule: use lookup), got {value!r}")
    return float(value)


def _weight(name: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise InvalidOptionError(f"{name} must be a finite number of at least 0, got {value!r}")
    return float(value)


def _device(name: str, value: object) -> object:
    if not isinstance(value, str):
        value = str(value)  # a torch.device
    kind = value.split(":", 1)[0]
    if kind not in {"cpu", "cuda"}:
        raise InvalidOptionError(f"{name} must be 'cpu' or a CUDA device such as 'cuda' or 'cuda:0', got {value!r}")
    return value


def _option(default: object, check: Any, help: str, *, shapes_answers: bool = True) -> Any:
    return field(default=default, metadata={"check": check, "help": help, "saved": shapes_answers})


@dataclass(frozen=True)
class Settings:
    """How a store embeds, attends and decodes. Frozen; checked when made (``InvalidOptionError``)."""

    similarity: Similarity = _option(
        "cosine", _choice(SIMILARITIES),
        "Attention scores: 'cosine', or 'dot', the write-up's raw dot product.")
    temperature: float | None = _option(
        None, _temperature,
        "Divides the attention scores; lower puts more weight on the closest keys (None: 0.03 for cosine, 1 for dot).")
    value_weight: float = _option(
        DEFAULT_VALUE_WEIGHT, _weight,
        "With cosine similarity: a key's score adds this times its value's cosine to the query (0: keys alone).")
    key_value_mix: float = _option(
        DEFAULT_KEY_VALUE_MIX, _weight,
        "With cosine similarity: each key is scored as unit(key) + this times unit(value) (0: the key alone).")
    vocabulary_size: int | None = _option(
        None, _optional_positive_int, "Decode only to the N most frequent words (None: every word).")
    n_trees: int = _option(DEFAULT_N_TREES, positive_int, "Trees of the annoy index over the vocabulary.")
    search_k: int = _option(DEFAULT_SEARCH_K, positive_int, "Tree nodes annoy searches per decode.")
    attend_to: AttendTo = _option(
        "all", _choice(ATTEND_TO),
        "'all': attention over every key; 'index': over the attend_top keys an annoy index over the keys proposes.")
    attend_top: int = _option(
        DEFAULT_ATTEND_TOP, positive_int, "With attend_to='index': how many keys each query attends to.")
    answers: Answers | None = _option(
        None, lambda name, value: None if value is None else _choice(ANSWERS)(name, value),
        "'vocabulary': any vocabulary word; 'values': stored values only (None: the vocabulary if there is one).")
    unknown: Unknown = _option(
        "correct", _choice(UNKNOWN),
        "Query words without a vector: 'correct' to the nearest known spelling, 'chars' to guess from spelling, or 'error'.")
    unknown_stored: Unknown = _option(
        "error", _choice(UNKNOWN),
        "The same for words of stored keys and values (default 'error': a store keeps what it was given).")
    device: str = _option(
        "cpu", _device, "Where torch does the matrix work ('cpu', 'cuda').", shapes_answers=False)

    def __post_init__(self) -> None:
        for option in fields(self):
            checked = option.metadata["check"](option.name, getattr(self, option.name))
            object.__setattr__(self, option.name, checked)
        if self.temperature is None:
            object.__setattr__(self, "temperature", DEFAULT_TEMPERATURES[self.similarity])

    @property
    def scale(self) -> float:
        """1 / temperature: what attention multiplies its scores by."""
        assert self.temperature is not None
        return 1.0 / self.temperature

    def replace(self, **changes: Any) -> Settings:
        """A copy with some options changed (and checked)."""
        if "similarity" in changes and "temperature" not in changes:
            changes["temperature"] = None  # the new similarity's default, not the old one's
        return dataclasses.replace(self, **changes)

    def saved(self) -> dict[str, object]:
        """The options that shape answers, as JSON-able values: what a store file keeps."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["saved"]}

    def as_dict(self) -> dict[str, object]:
        """Every option, as JSON-able values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_options(cls, base: Settings | None = None, **options: Any) -> Settings:
        """``base`` (or the defaults) with the options given (those not ``None``; old names accepted)."""
        given = given_options(**options)
        return (base or cls()).replace(**given) if given else (base or cls())


def option_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Settings))


def option_help() -> dict[str, str]:
    """Each option's one-line help, for the command line and the service's schema."""
    return {f.name: str(f.metadata["help"]) for f in fields(Settings)}


def given_options(**options: Any) -> dict[str, Any]:
    """The options a caller actually gave (not ``None``), with deprecated names translated (and warned)."""
    given: dict[str, Any] = {}
    known = set(option_names())
    for name, value in options.items():
        if value is None:
            continue
        if name in DEPRECATED:
            new = DEPRECATED[name]
            warnings.warn(
                f"the option {name}= is renamed {new}=; {name}= will be removed in the next release",
                DeprecationWarning,
                stacklevel=4,
            )
            if name == "attention":
                if value not in _OLD_ATTENTION:
                    raise InvalidOptionError(
                        f"attention must be one of 'full', 'topk' (now attend_to='all' or 'index'), got {value!r}"
                    )
                value = _OLD_ATTENTION[value]
            if options.get(new) is not None and options[new] != value:
                raise InvalidOptionError(f"{name}= and {new}= disagree ({value!r} and {options[new]!r}); pass {new}= only")
            name = new
        elif name not in known:
            raise InvalidOptionError(f"unknown option {name!r}; the options are {', '.join(sorted(known))}")
        given[name] = value
    return given


def differences(saved: Mapping[str, object], asked: Mapping[str, Any]) -> list[tuple[str, object, object]]:
    """(name, saved value, asked value) for every asked option that disagrees with a saved one."""
    out = []
    for name, value in asked.items():
        if name in saved and saved[name] != value:
            out.append((name, saved[name], value))
    return out


class Options(TypedDict, total=False):
    """The keyword options of ``Database(...)`` and ``Database.open(...)``: :class:`Settings`' fields
    (``None``: not given), and the deprecated old names. tests/test_settings.py keeps the two in step."""

    similarity: Similarity | None
    temperature: float | None
    value_weight: float | None
    key_value_mix: float | None
    vocabulary_size: int | None
    n_trees: int | None
    search_k: int | None
    attend_to: AttendTo | None
    attend_top: int | None
    answers: Answers | None
    unknown: Unknown | None
    unknown_stored: Unknown | None
    device: Any
    attention: Literal["full", "topk"] | None  # deprecated: attend_to
    attention_candidates: int | None  # deprecated: attend_top
    candidates: Answers | None  # deprecated: answers
