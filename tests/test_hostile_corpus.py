"""The hostile-input regression corpus: every case ends in a clean refusal or the correct result.

Cases are generated from fixed seeds (so the corpus is the same on every run and every machine)
in five categories: deployment specs and usage profiles as files (alias bombs, deep nesting,
duplicate keys, FIFO, /dev/zero, directories, symlink loops, huge and non-UTF-8 files, NaN/Inf,
huge integers, random field mutations), policy configs of odd shapes, command-line arguments,
drill journals (torn at every offset, bytes flipped, junk lines) and simulated account files.

A clean refusal is a `DrkitError` (a CLI argument: exit 2 and one stderr line); a correct result
is a valid object, or for a torn journal the records before the tear. Anything else — another
exception, a hang — fails. The test prints the count per category.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drkit.cli import main
from drkit.commands.check.analyzer import PolicyInfo, load_policy_config, reconcile_config
from drkit.commands.drill.backends.sim import ACCOUNT_FILE, SimBackend
from drkit.commands.drill.journal import Journal
from drkit.core.errors import DrkitError
from drkit.core.loader import MAX_BYTES, InputError
from drkit.core.spec import DeploymentSpec, load_spec
from drkit.core.usage import UsageProfile, load_usage
from drkit.policies.registry import all_policies
from tests.conftest import EXAMPLES

SEED = 1515
HOSTILE_VALUES: list[Any] = [
    None, True, -1, 0, 2**63, 10**40, -(10**40), 1e308, -1e-308, "", " ", "x" * 5000, "‮evil", "a\x00b", "\u200b",
    [], {}, [[[]]], {"a": {"b": {"c": {}}}}, ".nan", ".inf", "-.inf", "NaN", "1e999", "0x10", "١٢٣", "../../etc/passwd",
    "us-east-1\n", "ml.m5.xlarge ", "🙂", ["us-east-1"] * 50, {"": ""}, 3.5, "2026-13-45", "~", "*", "&a",
]  # fmt: skip


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in nested dicts and lists."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def _yaml_texts(base: dict[str, Any], rng: random.Random, mutations: int) -> Iterator[tuple[str, str | bytes]]:
    """Named hostile YAML texts built from a valid document."""
    good = yaml.safe_dump(base, sort_keys=False)
    for depth in (6, 8, 9, 12):
        lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, depth)]
        yield f"alias-bomb-{depth}", good + "\n".join(lines) + "\n"
    yield "alias-bomb-wide", "a: &a [" + ",".join(["x"] * 2000) + "]\nb: [" + ",".join(["*a"] * 200) + "]\n"
    yield "recursive-alias", "a: &a [*a]\n"
    yield "undefined-alias", good + "extra: *nowhere\n"
    for depth in (33, 100, 999, 5000, 100_000):
        yield f"deep-flow-{depth}", "x: " + "[" * depth + "]" * depth + "\n"
    for depth in (33, 200):
        yield f"deep-block-{depth}", "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v: 1\n"
    for key in list(base)[:8]:
        yield f"dup-top-{key}", good + f"{key}: {json.dumps(base[key])}\n"
    yield "dup-nested", good.replace("dns:\n", "dns:\n  ttl_seconds: 30\n  ttl_seconds: 60\n", 1)
    yield "dup-merge-ok-but-dup", "a: &x {b: 1}\nc: {<<: *x, d: 1, d: 2}\n"
    for name, value in (("nan", ".nan"), ("inf", ".inf"), ("ninf", "-.inf"), ("huge-int", "9" * 5000), ("long-int", "1" * 31)):
        yield f"number-{name}", good + f"weird: {value}\n"
    for n, cut in enumerate(sorted(rng.sample(range(1, len(good)), 6))):
        yield f"non-utf8-{n}", good[:cut].encode() + bytes([rng.choice([0x80, 0xC3, 0xFF, 0xFE, 0xED])]) + good[cut:].encode()
    for n in range(6):
        yield f"binary-{n}", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    yield "empty", ""
    yield "bom", "\ufeff" + good
    yield "nul", good + "\x00\n"
    yield "bidi-key", good + "\u202eevil: 1\n"
    yield "tabs", "a:\n\t- b\n"
    yield "top-list", "- a\n- b\n"
    yield "top-scalar", "42\n"
    yield "python-tag", "!!python/object/apply:os.system ['true']\n"
    yield "set-tag", "!!set {a, b}\n"
    yield "complex-key", "? [a, b]\n: 1\n"
    paths = list(_paths(base))
    for n in range(mutations):
        path = rng.choice(paths)
        value = rng.choice(HOSTILE_VALUES)
        yield f"mutation-{n}", yaml.safe_dump(_set(base, path, value), sort_keys=False, allow_unicode=True)


def _special_files(tmp: Path) -> Iterator[tuple[str, Path]]:
    fifo = tmp / "fifo.yaml"
    os.mkfifo(fifo)
    yield "fifo", fifo
    yield "dev-zero", Path("/dev/zero")
    yield "dev-null", Path("/dev/null")  # a device, even if it reads as empty
    yield "directory", tmp
    (tmp / "loop-a").symlink_to(tmp / "loop-b")
    (tmp / "loop-b").symlink_to(tmp / "loop-a")
    yield "symlink-loop", tmp / "loop-a"
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    yield "dangling-symlink", tmp / "dangling"
    yield "missing", tmp / "missing.yaml"
    for size in (MAX_BYTES + 1, 60 * 1024 * 1024):
        huge = tmp / f"huge-{size}.yaml"
        with open(huge, "wb") as fh:
            fh.truncate(size)  # sparse: instant to make, and refused before it is read
        yield f"huge-{size}", huge


class Tally:
    """Outcomes per category; `check` runs one case and accepts only a result or a DrkitError."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def check(self, category: str, name: str, run: Callable[[], Any], accept: Callable[[Any], bool] = lambda _r: True) -> None:
        try:
            result = run()
        except InputError as exc:
            assert "\n" not in str(exc), f"{category}/{name}: a loader refusal is one line: {exc}"
            self.counts[(category, "refused")] += 1
            return
        except DrkitError:
            self.counts[(category, "refused")] += 1
            return
        assert accept(result), f"{category}/{name}: accepted a wrong result {result!r:.200}"
        self.counts[(category, "accepted")] += 1

    def report(self) -> str:
        categories = sorted({c for c, _ in self.counts})
        return "\n".join(
            f"  {c}: {self.counts[(c, 'refused')] + self.counts[(c, 'accepted')]} cases "
            f"({self.counts[(c, 'refused')]} refused, {self.counts[(c, 'accepted')]} correct results)"
            for c in categories
        )


def _finite(model: Any) -> bool:
    """No NaN or infinity anywhere in an accepted model."""
    stack = [model.model_dump() if hasattr(model, "model_dump") else model]
    while stack:
        value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if isinstance(value, dict):
            stack += list(value.values())
        elif isinstance(value, list | tuple):
            stack += list(value)
    return True


def _files(tally: Tally, tmp: Path, category: str, base: dict[str, Any], load: Callable[[Path], Any], kind: type, rng: random.Random, mutations: int) -> None:
    for name, text in _yaml_texts(base, rng, mutations):
        path = tmp / f"{category}-{name}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        tally.check(category, name, lambda p=path: load(p), lambda r: isinstance(r, kind) and _finite(r))
    special = tmp / f"{category}-special"
    special.mkdir()
    for name, path in _special_files(special):
        tally.check(category, name, lambda p=path: load(p), lambda _r: False)


def _policy_infos() -> list[PolicyInfo]:
    infos = []
    for policy in all_policies():
        schema = policy.config_schema
        config = {"properties": schema.properties, "required": schema.required or []} if schema else {}
        infos.append(PolicyInfo(policy.name, policy.description, str(policy.enforcement_level.value), config, False))
    return infos


def _policy_configs(rng: random.Random, names: list[str]) -> Iterator[tuple[str, str | bytes]]:
    shapes: list[Any] = [[], "mandatory", 42, None, {"all": []}, {"all": {}}, {"all": None}, {"all": "strict"}, {"all": ["mandatory"]}]
    for name in names[:10]:
        shapes += [{name: 5}, {name: []}, {name: {"enforcementLevel": []}}, {name: {"enforcementLevel": {"a": 1}}},
                   {name: {"nope": 1}}, {name: "advisory"}, {name: {"enforcementLevel": "disabled"}}]  # fmt: skip
    for n, shape in enumerate(shapes):
        yield f"shape-{n}", json.dumps(shape)
    yield "dup-key", '{"all": "advisory", "all": "mandatory"}'
    yield "nan", '{"capacity-caps": {"maxInstancesPerModel": NaN}}'
    yield "infinity", '{"capacity-caps": {"maxInstancesPerModel": -Infinity}}'
    yield "overflow-float", '{"capacity-caps": {"maxInstancesPerModel": 1e999}}'
    yield "huge-int", '{"capacity-caps": {"maxInstancesPerModel": ' + "9" * 5000 + "}}"
    yield "deep", '{"all": ' + "[" * 50_000 + "]" * 50_000 + "}"
    yield "deep-33", '{"x": ' + "[" * 33 + "]" * 33 + "}"
    yield "non-utf8", b'{"all": "\xff"}'
    yield "truncated", '{"all": "advis'
    yield "empty", ""
    yield "bom", '\ufeff{"all": "advisory"}'
    for n in range(60):
        entry = {rng.choice([*names, "all", "typo-policy"]): rng.choice([*HOSTILE_VALUES, "advisory", "mandatory", {"enforcementLevel": "advisory"}])}
        yield f"random-{n}", json.dumps(entry)


def _cli_cases(rng: random.Random, spec: str, workdir: str) -> Iterator[tuple[str, list[str], bool]]:
    """(name, argv, may_succeed). Drill flags are only ever invalid: a valid one would run a drill."""
    bad_numbers = ["9" * 5000, "-1", "-0.5", "nan", "inf", "-inf", "1e309", "", " ", "0x10", "١٢٣", "1_0_", "1e", "‮5", "+-3", "3.0.0", "5 5"]
    for flag in ("--in-flight", "--seed"):
        for value in bad_numbers + ["1.5", "100001" if flag == "--in-flight" else str(2**32)]:
            yield f"drill{flag}={value[:12]!r}", ["drill", "run", spec, "--scenario", "region-outage", "--workdir", workdir, f"{flag}={value}"], False
    for flag in ("--replication-lag", "--max-duration"):
        for value in [*bad_numbers[:10], "86401" if flag == "--replication-lag" else "0.5"]:
            if value in ("-0.5",) and flag == "--max-duration":
                continue
            yield f"drill{flag}={value[:12]!r}", ["drill", "run", spec, "--scenario", "region-outage", "--workdir", workdir, f"{flag}={value}"], False
    for value in ["mars-1", "US-EAST-1", "us-east-1 ", "us\u202eeast-1", "x" * 5000, "", "us-east-1\x00"]:
        yield f"redrive-region={value[:12]!r}", ["redrive", "--from-region", value, "--to-region", "us-west-2", "--deployment-spec", spec], False
        yield f"preview-region={value[:12]!r}", ["preview", spec, "--region", value], False
    for value in ["0", "-1", "65", "9" * 5000, "many"]:
        yield f"redrive-workers={value[:12]!r}", ["redrive", "--from-region", "us-east-1", "--to-region", "us-west-2", "--deployment-spec", spec, "--workers", value], False
    sizes = ["5\n", "--", "9" * 5000, "-1", "1e3", "6MiB", "7 MB", "6_291_456", "0", "5TiB", "6TiB", "1,0,0", "10 XB", "", "nan", "١٢٣", "9" * 31]
    sizes += [str(rng.randrange(0, 2**45)) for _ in range(25)]
    for size in sizes:
        yield f"route-payload={size[:12]!r}", ["route", "--spec", spec, "--class", "authorisation", "--payload-bytes", size], True
    for name in ["", "nope", "x" * 3000, "author\u202eisation"]:
        yield f"route-class={name[:12]!r}", ["route", "--spec", spec, "--class", name, "--payload-bytes", "10"], False


def _run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's refusal
            code = int(exc.code or 0)
    return code, err.getvalue()


def _journal_cases(tmp: Path, rng: random.Random) -> Iterator[tuple[str, bytes, list[str] | None]]:
    """(name, bytes, the kinds a correct reader returns or None when it must refuse)."""
    source = Journal(tmp / "source")
    kinds = ["begin", "step", "snapshot", "intent", "result", "step", "closed"]
    for kind in kinds:
        source.append("d1", kind, step="inject", state={"outages": ["us-east-1"], "note": "é"})
    whole = source.path.read_bytes()
    ends = [i + 1 for i, b in enumerate(whole) if b == ord("\n")]
    for cut in sorted({*rng.sample(range(len(whole)), 40), *ends, 0, 1, len(whole) - 1}):
        yield f"torn-{cut}", whole[:cut], kinds[: sum(1 for e in ends if e <= cut)]
    for n in range(50):
        flipped = bytearray(whole)
        at = rng.randrange(len(whole))
        flipped[at] ^= 1 << rng.randrange(8)
        last_line = at >= ends[-2] and flipped[-1:] != b"\n"
        yield f"flip-{n}", bytes(flipped), kinds[:-1] if last_line else None
    junk = [b"", b"garbage", b"{}", b"00000000 {}", b"\xff\xfe", b"0" * 8 + b" " + b"[" * 40 + b"]" * 40]
    for n, line in enumerate(junk):
        yield f"junk-middle-{n}", whole[: ends[2]] + line + b"\n" + whole[ends[2] :], None
    for n, body in enumerate(['{"drill": "d1", "kind": "begin", "kind": "closed"}', '{"drill": "d1", "kind": "begin", "x": NaN}',
                              '{"drill": 5, "kind": "begin"}', '["d1", "begin"]', '{"drill": "d1", "kind": "begin", "n": ' + "9" * 400 + "}"]):  # fmt: skip
        import zlib

        line = b"%08x %s\n" % (zlib.crc32(body.encode()), body.encode())
        yield f"checksummed-but-bad-{n}", whole + line, None


def _account_cases(good: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, str | bytes]]:
    yield "not-json", "{nope"
    yield "list", "[]"
    yield "nan", json.dumps(good).replace('"outages": []', '"outages": NaN')
    yield "non-utf8", b'{"deployment": "\xff"}'
    paths = list(_paths(good))
    for n in range(25):
        yield f"mutation-{n}", json.dumps(_set(good, rng.choice(paths), rng.choice(HOSTILE_VALUES)))


def test_the_hostile_corpus_ends_in_clean_refusals_or_correct_results(tmp_path, capsys):
    rng = random.Random(SEED)
    tally = Tally()
    spec_path = EXAMPLES / "fraud-tier1.yaml"

    _files(tally, tmp_path, "spec", yaml.safe_load(spec_path.read_text()), load_spec, DeploymentSpec, rng, mutations=150)
    usage_base = yaml.safe_load((EXAMPLES / "usage" / "fraud-tier1.yaml").read_text())
    _files(tally, tmp_path, "usage", usage_base, load_usage, UsageProfile, rng, mutations=80)

    infos = _policy_infos()
    for name, text in _policy_configs(rng, [i.name for i in infos]):
        path = tmp_path / f"policy-{name}.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        tally.check("policy-config", name, lambda p=path: reconcile_config(infos, load_policy_config(p), str(p)), lambda r: isinstance(r, dict))

    for name, argv, may_succeed in _cli_cases(rng, str(spec_path), str(tmp_path / "drill")):
        code, err = _run_cli(argv)
        lines = err.strip().splitlines()
        if code == 0:
            assert may_succeed, f"cli/{name}: accepted {argv}"
            tally.counts[("cli-argument", "accepted")] += 1
        else:
            assert code == 2 and len(lines) == 1 and lines[0].startswith("drkit: error: "), f"cli/{name}: exit {code}, stderr {err!r:.400}"
            tally.counts[("cli-argument", "refused")] += 1

    for name, data, expected in _journal_cases(tmp_path, rng):
        workdir = tmp_path / f"journal-{name}"
        workdir.mkdir()
        (workdir / "journal.jsonl").write_bytes(data)

        def read(w: Path = workdir) -> list[str]:
            return [r["kind"] for r in Journal(w).records()]

        tally.check("journal", name, read, lambda kinds, e=expected: e is not None and kinds == e)
    special = tmp_path / "journal-special"
    special.mkdir()
    for name, path in _special_files(special):
        if path.name == special.name:
            continue
        workdir = tmp_path / f"journal-{name}"
        workdir.mkdir()
        (workdir / "journal.jsonl").symlink_to(path)
        tally.check("journal", name, lambda w=workdir: Journal(w).records(), lambda r, n=name: r == [] and n == "missing")

    from drkit.commands.drill.topology import topology_of
    from tests.conftest import example_graph

    good_dir = tmp_path / "account-good"
    backend = SimBackend(good_dir, topology_of(example_graph("docs-tier3")))
    backend.close()
    good = json.loads((good_dir / ACCOUNT_FILE).read_text())
    for name, text in _account_cases(good, rng):
        workdir = tmp_path / f"account-{name}"
        workdir.mkdir()
        (workdir / ACCOUNT_FILE).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))

        def open_account(w: Path = workdir) -> Any:
            sim = SimBackend(w)
            state = sim.state()
            sim.close()
            return state

        tally.check("sim-account", name, open_account, lambda state: isinstance(state, dict))

    total = sum(tally.counts.values())
    with capsys.disabled():
        print(f"\nhostile corpus (seed {SEED}): {total} cases\n{tally.report()}")
    assert total >= 500


@pytest.mark.parametrize("name", ["alias-bomb-12", "deep-flow-100000", "dup-nested"])
def test_the_classic_attacks_name_the_line_and_what_is_valid(tmp_path, name):
    base = yaml.safe_load((EXAMPLES / "fraud-tier1.yaml").read_text())
    text = dict(_yaml_texts(base, random.Random(SEED), 0))[name]
    path = tmp_path / "spec.yaml"
    path.write_text(str(text))
    with pytest.raises(InputError) as err:
        load_spec(path)
    expected = {
        "alias-bomb-12": "expands to more than 100,000 nodes (alias expansion); valid: at most 100,000 nodes after aliases",
        "deep-flow-100000": "not valid YAML (exceeded maximum nesting depth)",
        "dup-nested": "key 'ttl_seconds' appears twice in one mapping",
    }[name]
    assert str(err.value).startswith(f"{path}: line ") and expected in str(err.value)
