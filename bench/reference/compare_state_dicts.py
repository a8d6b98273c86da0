#!/usr/bin/env python3
"""Checks that a PyTorch model's state dict holds what Pleura's does: the same names, shapes and element
counts, in the same order, up to the model's documented state-dict rules.

  compare_state_dicts.py PLEURA_LISTING TORCH_LISTING

PLEURA_LISTING is `bench_unet --model M --state-dict`: "name<TAB>d0,d1,...<TAB>numel" per slot, then the
model's rules from its registry entry (models/registry.cpp) as "#alias FROM TO" (keys under prefix FROM
are the same tensors as those under TO, as when PyTorch registers one module under two names) and
"#optional KEY" (a key the files may hold though Pleura has no slot for it). TORCH_LISTING is
`pleura_unets.py --dump-parameters M`, in the same line format. Needs no PyTorch. Exit 0 when they agree,
1 with one line per difference otherwise. Used by tests/bench/pytorch_names.sh.
"""
import sys


def read_listing(path):
    entries, aliases, optional = [], [], set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#alias "):
                _, source, target = line.split(" ")
                aliases.append((source, target))
            elif line.startswith("#optional "):
                optional.add(line.split(" ", 1)[1])
            elif line:
                fields = line.split("\t")
                if len(fields) != 3:
                    sys.exit(f"{path}:{n}: expected name<TAB>shape<TAB>numel, got {line!r}")
                entries.append((fields[0], fields[1], int(fields[2])))
    return entries, aliases, optional


def canonical(name, aliases):
    for source, target in aliases:
        if name.startswith(source):
            return target + name[len(source):]
    return None


def compare(pleura_path, torch_path):
    ours, aliases, optional = read_listing(pleura_path)
    theirs, _, _ = read_listing(torch_path)
    by_name = {name: (shape, numel) for name, shape, numel in ours}
    problems, direct = [], []
    for name, shape, numel in theirs:
        target = canonical(name, aliases)
        if target is not None:
            if by_name.get(target) != (shape, numel):
                problems.append(f"{name}: alias of {target}, PyTorch {shape} ({numel}), Pleura {by_name.get(target)}")
        elif name in by_name:
            direct.append((name, shape, numel))
        elif name not in optional:
            problems.append(f"{name}: in PyTorch's state dict ({shape}), not in Pleura's")
    if direct != ours:
        missing = [name for name, _, _ in ours if name not in {n for n, _, _ in direct}]
        problems += [f"{name}: in Pleura's state dict, not in PyTorch's" for name in missing]
        for i, (a, b) in enumerate(zip(direct, ours)):
            if a != b:
                problems.append(f"entry {i}: PyTorch {a}, Pleura {b} (order, shape or count differs)")
                break
    for p in problems:
        print(p)
    print(f"{len(ours)} Pleura entries, {len(theirs)} PyTorch entries "
          f"({len(theirs) - len(direct)} aliases or optional): {'same' if not problems else 'DIFFERENT'}")
    return not problems


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if compare(sys.argv[1], sys.argv[2]) else 1)
