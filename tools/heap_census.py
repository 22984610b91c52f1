"""A census of the running firmware's heap: what each module's code takes, the interned names,
each class's instances, and the rest by type.

    python3 tools/heap_census.py [--heap 192K] [--readings 1000] [--mqtt] [--web SECONDS]
                                 [--capture FILE] [--top 25]

Runs the firmware as tools/memory_budget.py does (precompiled, the simulated meter, a telnet
client, Mosquitto with --mqtt, the dashboard polled with --web), with tools/census_main.py in
place of main.py. Once --readings readings are in, between the dashboard's polls, it asks for a
census: the firmware writes the ids of its types, modules and functions, collects, prints its
heap's block map and holds still while this reads the heap from /proc (Linux, same user). Every
allocation is then put down to one owner:

  code M      module M: its module object, globals and their table, name and constant tables,
              constants (text), functions (object, bytecode, tables of nested code), classes
  names       the interned names: MicroPython's name pools and the pieces their text is in
  instance C  objects of class C with their attribute tables
  T           the rest by type (str, bytes, list...: with their storage), or "untyped" (an
              allocation no type or owner was found for: the interpreter's own, mostly)

Then the free heap: its runs, what stands alone between them, the free pieces of 1 KB or more,
and a map of where the heap is in use (layout()).

Figures are for the 64-bit unix port (32-byte blocks, 8-byte words); the board's blocks are 16
bytes and its words 4. The hook (census_main.py) is counted in its own lines, about 2 KB.
"""
import argparse
import bisect
import collections
import glob
import os
import re
import shutil
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import memory_budget  # noqa: E402

BLOCK = 32
WORD = 8
POOL_HEADER = 48  # qstr_pool_t: prev, total_prev_len, alloc, len, hashes, lengths
POOL_ENTRY = 11   # a name's pointer, 2-byte hash, 1-byte length
FUNCTION_KINDS = ("function", "genfun")
SENTINEL = 4  # MicroPython's MP_OBJ_SENTINEL: a deleted key in a map table
LAYOUT_PARTS = 64


class Heap:
    """The heap's bytes and its allocations (start address -> size) from the block map."""

    def __init__(self, data, start, block_map):
        self.data, self.start = data, start
        self.sizes = {}
        self.starts = None  # the allocations' addresses in order, once needed
        at = None
        for index, kind in enumerate(block_map):
            if kind == "=" and at is not None:
                self.sizes[at] += BLOCK
                continue
            at = None
            if kind not in ".=":
                at = start + index * BLOCK
                self.sizes[at] = BLOCK

    def word(self, address, k=0):
        offset = address - self.start + k * WORD
        if 0 <= offset <= len(self.data) - WORD:
            return struct.unpack_from("<Q", self.data, offset)[0]
        return 0

    def words(self, address):
        return [self.word(address, k) for k in range(self.sizes.get(address, 0) // WORD)]

    def ordered(self):
        """The allocations' addresses in order."""
        if self.starts is None:
            self.starts = sorted(self.sizes)
        return self.starts

    def containing(self, pointer):
        """The allocation that holds address `pointer` (inside it, not only at its start), or None."""
        starts = self.ordered()
        i = bisect.bisect_right(starts, pointer) - 1
        if i >= 0 and pointer < starts[i] + self.sizes[starts[i]]:
            return starts[i]
        return None

    def text(self, address, size):
        offset = address - self.start
        return self.data[offset:offset + size]


def block_map(log):
    """(heap start, block map string, one character a block to the heap's end) from the last
    micropython.mem_info(1) in `log`."""
    total = int(re.findall(r"GC: total: (\d+)", log)[-1])
    at = log.rindex("GC memory layout; from ")
    start = int(re.match(r"GC memory layout; from ([0-9a-f]+):", log[at:]).group(1), 16)
    blocks = {}
    for line in log[at:].split("\n")[1:]:
        match = re.match(r"^([0-9a-f]{8}): (.*)$", line)
        if match:
            first = int(match.group(1), 16) // BLOCK
            for k, kind in enumerate(match.group(2)):
                blocks[first + k] = kind
        elif blocks and not line.startswith("       (") and "lines all free" not in line:
            break
    return start, "".join(blocks.get(i, ".") for i in range(total // BLOCK))


def read_ids(path):
    """{id: name} of what census_main.py wrote."""
    ids = {}
    with open(path) as f:
        for line in f:
            name, _, number = line.strip().rpartition(" ")
            if name:
                ids.setdefault(int(number), name)
    return ids


def census(heap, types, functions):
    """({owner: [bytes, allocations]} for every allocation of `heap`, islands(), the name pools
    [(entries, names in it)])."""
    owner = {}
    type_of = {}
    for address in heap.sizes:
        kind = heap.word(address)
        name = types.get(kind)
        if name and kind not in heap.sizes and not name.startswith("module:"):
            name = name.rsplit(".", 1)[-1]  # a built-in type (not in the heap) a module imported
        type_of[address] = name

    def own(address, label):
        if address in heap.sizes and address not in owner:
            owner[address] = label
            return True
        return False

    def own_object(address, label):
        """An object and what its kind keeps in a separate allocation."""
        if not own(address, label):
            return
        kind = type_of.get(address)
        if kind in ("str", "bytes", "dict", "list", "bytearray", "array", "memoryview"):
            own(heap.word(address, 3), label)

    modules = {address: name[len("module:"):] for address, name in types.items() if name.startswith("module:")}
    module_type = [address for address, name in types.items() if name == "module"]

    def code_of(function, label):
        own(function, label)
        own(heap.word(function, 3), label)  # bytecode
        children = heap.word(function, 2)
        if own(children, label):
            for raw_code in heap.words(children):
                if own(raw_code, label):
                    for pointer in heap.words(raw_code):
                        own(pointer, label)

    # Functions, by the module their code belongs to (their context).
    for address in heap.sizes:
        if type_of[address] in FUNCTION_KINDS:
            context = heap.word(address, 1)
            if context in modules:
                code_of(address, "code " + modules[context])
    # Modules: the object, the globals, the name and constant tables, the constants.
    for address, name in modules.items():
        if address not in heap.sizes or heap.word(address) not in module_type:
            continue
        label = "code " + name
        own(address, label)
        own_object(heap.word(address, 1), label)
        own(heap.word(address, 2), label)  # the name table; the constants' follows it in one piece
        constants = heap.word(address, 3)
        piece = heap.containing(constants)
        if piece is not None:
            own(piece, label)
            for k in range((piece + heap.sizes[piece] - constants) // WORD):
                pointer = heap.word(constants, k)
                if type_of.get(pointer) in ("str", "bytes", "tuple", "float", "int"):
                    own_object(pointer, label)
    # Classes: the type object, its dict and table, its constants and methods; a class is put
    # down to the module its methods' code is in (it may be imported into others).
    class_names = {}
    for address, name in types.items():
        if address not in heap.sizes or name.startswith("module:") or "." not in name:
            continue
        module = name.rsplit(".", 1)[0]
        dicts = [pointer for pointer in heap.words(address) if type_of.get(pointer) == "dict"]
        values = [value for pointer in dicts for value in heap.words(heap.word(pointer, 3))[1::2]]
        for value in values:
            if value in functions and heap.word(value, 1) in modules:
                module = modules[heap.word(value, 1)]
        class_names[address] = module + "." + name.rsplit(".", 1)[1]
        label = "code " + module
        own(address, label)
        for pointer in dicts:
            own_object(pointer, label)
        for value in values:
            if type_of.get(value) in ("str", "bytes", "tuple"):
                own_object(value, label)
            elif value in functions:
                code_of(value, label)
    # Names: the pools (their size tells them), then the pieces their names' text is in.
    pools = []
    for address, size in heap.sizes.items():
        alloc = heap.word(address, 2)
        if 10 <= alloc < 65536 and size == -(-(POOL_HEADER + alloc * POOL_ENTRY) // BLOCK) * BLOCK \
                and heap.word(address, 3) <= alloc:
            pools.append((alloc, heap.word(address, 3)))
            own(address, "names")
            for pointer in heap.words(address)[6:6 + heap.word(address, 3)]:
                own(heap.containing(pointer), "names")
    # Instances of the firmware's classes (type objects in the heap: a built-in type's is not, as
    # array imported by a module), named after the module their methods' code is in.
    for address in heap.sizes:
        kind = heap.word(address)
        name = types.get(kind)
        if name and "." in name and not name.startswith("module:") and kind in heap.sizes:
            label = "instance " + class_names.get(kind, name)
            if own(address, label):
                own(heap.word(address, 3), label)
    # The rest by type; then what is left.
    for address in heap.sizes:
        kind = type_of[address]
        if kind:
            own_object(address, kind)
    totals = collections.defaultdict(lambda: [0, 0])
    for address, size in heap.sizes.items():
        entry = totals[owner.get(address, "untyped")]
        entry[0] += size
        entry[1] += 1
    return totals, islands(heap, owner), sorted(pools)


def islands(heap, owner):
    """The free heap: (free bytes, [run sizes], {owner: allocations with free heap on both sides},
    layout()), those allocations being what keeps free runs apart (the heap cannot move them)."""
    starts = heap.ordered()
    end = heap.start + len(heap.data)  # the block map's length: the whole heap
    runs = []
    free_before = set()
    for i, address in enumerate(starts):
        previous_end = starts[i - 1] + heap.sizes[starts[i - 1]] if i else heap.start
        if address > previous_end:
            runs.append(address - previous_end)
            free_before.add(address)
    last_end = starts[-1] + heap.sizes[starts[-1]] if starts else heap.start
    if end > last_end:
        runs.append(end - last_end)
    between = collections.Counter()
    for i, address in enumerate(starts):
        following = starts[i + 1] if i + 1 < len(starts) else end
        if address in free_before and following > address + heap.sizes[address]:
            between[owner.get(address, "untyped")] += 1
    return sum(runs), runs, between, layout(heap)


def layout(heap, parts=LAYOUT_PARTS):
    """The heap from its low end to its high end in `parts` equal parts, each a character for how
    much of it is in use: '#' all but a little, ':' most, '.' some, ' ' (nearly) none. Code that
    stays loaded sits low when the start collects its garbage as it goes; a part left '.' in the
    middle is room only small objects fit."""
    size = len(heap.data) / parts
    used = [0.0] * parts
    for address, length in heap.sizes.items():
        a, b = address - heap.start, address - heap.start + length
        for part in range(int(a // size), min(parts, int((b - 1) // size) + 1)):
            used[part] += min(b, (part + 1) * size) - max(a, part * size)
    return "".join("#" if u > 0.95 * size else ":" if u > 0.5 * size else "." if u > 0.05 * size else " "
                   for u in used)


def report(result, top):
    """Lines: the whole, the groups, each group's largest owners, then the free heap."""
    totals, (free, runs, between, heap_layout), pools = result
    used = sum(size for size, _ in totals.values())
    groups = collections.defaultdict(int)
    for name, (size, _) in totals.items():
        groups[name.split(" ")[0] if name.split(" ")[0] in ("code", "instance") else
               name if name in ("names", "untyped") else "data"] += size
    lines = ["heap in use: %d B in %d allocations" % (used, sum(n for _, n in totals.values())),
             "  " + ", ".join("%s %d B" % (g, s) for g, s in sorted(groups.items(), key=lambda x: -x[1]))]
    for group in ("code", "instance"):
        ranked = sorted(((s, n, name) for name, (s, n) in totals.items() if name.startswith(group + " ")), reverse=True)
        lines.append("%s, largest first:" % group)
        lines += ["  %6d B %4d  %s" % (s, n, name[len(group) + 1:]) for s, n, name in ranked[:top]]
    ranked = sorted(((s, n, name) for name, (s, n) in totals.items()
                     if not name.startswith(("code ", "instance "))), reverse=True)
    lines.append("names: %d interned here, in pools of %s entries" % (
        sum(n for _, n in pools), ", ".join("%d (%d used)" % pool for pool in pools)))
    lines.append("data by type, names, untyped:")
    lines += ["  %6d B %4d  %s" % (s, n, name) for s, n, name in ranked[:top]]
    lines.append("free: %d B in %d runs, the largest %d B; runs of 1, 2, 3-8, 9+ blocks: %s" % (
        free, len(runs), max(runs or [0]), ", ".join(str(sum(1 for r in runs if low <= r // BLOCK <= high))
                                                    for low, high in ((1, 1), (2, 2), (3, 8), (9, 1 << 30)))))
    big = sorted((r for r in runs if r >= 1024), reverse=True)
    lines.append("free pieces of 1 KB or more: %d%s" % (len(big), (" (%s B)" % ", ".join(map(str, big))) if big else ""))
    lines.append("layout, low to high address ('#' in use, ' ' free): |%s|" % heap_layout)
    lines.append("what stands alone between free runs (allocations), largest first:")
    lines += ["  %4d  %s" % (n, name) for name, n in between.most_common(top)]
    return lines


def _firmware_process(request):
    """(pid, folder) of the micropython process started with HANREADER_CENSUS=`request`."""
    marker = ("HANREADER_CENSUS=" + request).encode()
    for path in glob.glob("/proc/[0-9]*/environ"):
        folder = os.path.dirname(path)
        try:
            with open(path, "rb") as f, open(os.path.join(folder, "cmdline"), "rb") as g:
                if marker in f.read().split(b"\0") and b"census_main.py" in g.read():
                    return int(os.path.basename(folder)), os.readlink(os.path.join(folder, "cwd"))
        except OSError:
            continue
    raise RuntimeError("the firmware's process was not found")


def take(request):
    """Ask the running firmware for a census and read it: census()'s result."""
    pid, folder = _firmware_process(request)
    log_path = os.path.join(os.path.dirname(folder), "firmware.log")
    with open(log_path, errors="replace") as f:
        seen = len(f.read())
    open(request, "w").close()
    deadline = time.monotonic() + 20
    while True:
        with open(log_path, errors="replace") as f:
            log = f.read()
        if "CENSUS PAUSE" in log[seen:]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the firmware did not answer the census request")
        time.sleep(0.05)
    start, blocks = block_map(log[:seen + log[seen:].index("CENSUS PAUSE")])
    with open("/proc/%d/mem" % pid, "rb") as memory:
        memory.seek(start)
        data = memory.read(len(blocks) * BLOCK)
    return census(Heap(data, start, blocks), read_ids(request + ".types"), read_ids(request + ".funs"))


def run(heap="192K", readings=1000, mqtt=False, web=0, capture=memory_budget.CAPTURE, progress=print):
    """The census of a firmware run (see the module's doc) once `readings` readings are in:
    census()'s result."""
    folder = tempfile.mkdtemp(prefix="hanreader-census-")
    request = os.path.join(folder, "request")
    os.environ["HANREADER_CENSUS"] = request
    taken = []

    def checkpoint(line):
        progress(line)
        found = re.match(r"after +(\d+) readings", line)
        if found and int(found.group(1)) >= readings and not taken:
            taken.append(take(request))
    try:
        memory_budget.run(heap, readings, 400, report=checkpoint, mqtt=mqtt, web=web, capture=capture,
                          entry=os.path.join(HERE, "census_main.py"))
    finally:
        del os.environ["HANREADER_CENSUS"]
        shutil.rmtree(folder, ignore_errors=True)
    if not taken:
        raise RuntimeError("no census was taken")
    return taken[0]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heap", default="192K")
    parser.add_argument("--readings", type=int, default=1000)
    parser.add_argument("--mqtt", action="store_true")
    parser.add_argument("--web", type=float, default=0, metavar="SECONDS")
    parser.add_argument("--capture", default=memory_budget.CAPTURE)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print("\n".join(report(run(args.heap, args.readings, args.mqtt, args.web, args.capture), args.top)))


if __name__ == "__main__":
    main(sys.argv[1:])
