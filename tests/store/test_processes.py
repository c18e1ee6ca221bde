"""Store files shared between processes: killed writers lose no acknowledged write; readers keep up."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from fuzzykv import Database
from fuzzykv.embed.vectors import Embeddings

WRITER = textwrap.dedent(
    """
    import json, sys
    from fuzzykv import Database
    plan = json.load(open(sys.argv[2]))
    with Database.open(sys.argv[1]) as db:
        for op, key, value in plan:
            if op == "set":
                db[key] = value
            elif op == "update":
                db.update(value)
            else:
                del db[key]
            print(json.dumps([op, key, value]), flush=True)  # acknowledged: the call returned
    """
)

READER = textwrap.dedent(
    """
    import json, os, sys
    from fuzzykv import Database, EmptyDatabaseError
    errors, last = [], None
    with Database.open(sys.argv[1]) as db:
        print("ready", flush=True)
        while not os.path.exists(sys.argv[2]):
            try:
                size = len(db)
                if size != last:
                    print(size, flush=True)  # every new state this reader sees, as it sees it
                    last = size
                if size:
                    db.lookup("scarlet")
                    db.query("azure", exact=True)
            except EmptyDatabaseError:
                pass  # the writer cleared the store between len() and the query: the right answer
            except Exception as error:
                errors.append(repr(error))
    print(json.dumps({"errors": errors}), flush=True)
    """
)


def make_plan(words: list[str], rng: random.Random, steps: int) -> list[list]:
    """Sets, small bulk updates and deletes of keys set earlier: each op touches its own keys."""
    plan: list[list] = []
    fresh = iter(words)
    live: list[str] = []
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.15 and live:
            key = live.pop(rng.randrange(len(live)))
            plan.append(["del", key, None])
        elif roll < 0.3:
            pairs = {next(fresh): rng.choice(["red", "blue", "green"]) for _ in range(3)}
            plan.append(["update", None, pairs])
            live.extend(pairs)
        else:
            key = next(fresh)
            plan.append(["set", key, rng.choice(["red", "blue", "green"])])
            live.append(key)
    return plan


def apply(model: dict[str, str], op: list) -> None:
    kind, key, value = op
    if kind == "set":
        model[key] = value
    elif kind == "update":
        model.update(value)
    else:
        model.pop(key, None)


def touched(op: list) -> set[str]:
    return set(op[2]) if op[0] == "update" else {op[1]}


def test_a_killed_writer_loses_no_acknowledged_write(glove: Embeddings, tmp_path: Path) -> None:
    path = tmp_path / "crash.fkv"
    rng = random.Random(5)
    words = glove.words[3_000:9_000]
    model: dict[str, str] = {}
    for round_number in range(4):
        plan = make_plan(words[round_number * 1_500 : (round_number + 1) * 1_500], rng, steps=400)
        # Deletes may only name keys of this round; earlier rounds' keys stay as the model has them.
        plan_file = tmp_path / f"plan-{round_number}.json"
        plan_file.write_text(json.dumps(plan))
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(plan_file)], stdout=subprocess.PIPE, text=True
        )
        kill_after = rng.randrange(20, 150)
        acknowledged = []
        assert writer.stdout is not None
        for line in writer.stdout:
            acknowledged.append(json.loads(line))
            if len(acknowledged) == kill_after:
                os.kill(writer.pid, signal.SIGKILL)
                break
        writer.wait()
        assert writer.returncode == -signal.SIGKILL, "the writer finished before it could be killed"
        for op in acknowledged:
            apply(model, op)
        in_flight = touched(plan[len(acknowledged)])  # may or may not have landed: it never returned
        with Database.open(path) as db:
            stored = dict(db)
            for key in in_flight:
                if key in stored:
                    model[key] = stored[key]
                else:
                    model.pop(key, None)
            assert stored == model, f"round {round_number}: acknowledged writes lost or changed"
            assert db.lookup(next(iter(model))) == model[next(iter(model))]


def test_a_reader_process_sees_writes_without_reopening(glove: Embeddings, tmp_path: Path) -> None:
    path = tmp_path / "shared.fkv"
    stop = tmp_path / "stop"
    with Database.open(path) as db:
        db.update({"crimson": "red", "navy": "blue"})
        reader = subprocess.Popen([sys.executable, "-c", READER, str(path), str(stop)], stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"

        def reader_sees(size: int) -> None:
            for line in reader.stdout:  # the reader prints each new size it sees, without reopening
                if int(line) == size:
                    return
            raise AssertionError(f"the reader stopped before it saw {size} pairs")

        reader_sees(2)
        words = glove.words[4_000:4_300]
        for start in range(0, 300, 100):
            for word in words[start : start + 100]:
                db[word] = "word"
            reader_sees(2 + start + 100)
        for word in words[:100]:
            del db[word]
        reader_sees(202)
        with db.batch():
            db.update({w: "word" for w in glove.words[5_000:5_500]})
        reader_sees(702)
        db.clear()
        reader_sees(0)
    stop.write_text("stop")
    report = json.loads(reader.stdout.readline())
    reader.wait(timeout=60)
    assert report["errors"] == []
