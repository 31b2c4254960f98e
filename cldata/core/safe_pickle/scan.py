"""The opcode scan: one pass over a pickle, building nothing, before the C unpickler runs it.

What the C unpickler does without calling back into Python, and so without any hook: it
hashes dict keys and set members (SETITEM(S), DICT, ADDITEMS, FROZENSET), grows its memo
table to the largest index a PUT names, and allocates the length a BINBYTES8 claims before
reading it. A tuple key hashes all its nested tuples (no caching): 40 levels of shared pairs
take 2**40 steps, and a tuple nested 100,000 deep overflows the C stack (a crash); a
9-byte pickle with PUT 100,000,000 makes the unpickler fill 1.5 GB. So before loading, one
pass over the opcodes (no objects built) follows the stack just enough to know each value's
hashing cost (tuples: their expanded size; frozensets: their length; big ints: their size;
anything else: 1) and nesting, and refuses what the C code would not survive.

The scan follows the stack as the unpickler would, but each value is only an int: its
hashing cost shifted left by ``_SHIFT``, or'ed with its tuple nesting. The opcodes that make
up most pickles (a catalog's strings, memo references, small ints, dicts and lists) are
handled first and inline in :meth:`Scan.run`: each test there costs time on millions of
them; the rest go through :meth:`Scan.other`.

Examples
--------
>>> import pickle
>>> from cldata.core.safe_pickle import DEFAULT_LIMITS
>>> from cldata.core.safe_pickle.budget import Budget
>>> data = pickle.dumps({"culture": "C7"})
>>> Scan(data, Budget(DEFAULT_LIMITS, len(data), "")).run(0)    # nothing to refuse
"""

from __future__ import annotations

import pickle
import pickletools
from typing import TYPE_CHECKING

from cldata.errors import ContentLimitError

if TYPE_CHECKING:  # only for annotations (the budget is made by the unpickler)
    from cldata.core.safe_pickle.budget import Budget

__all__ = ["Scan"]

_ARG_SIZE: list[int | None] = [None] * 256  # 0 none, n fixed, -1/-4/-8 length-prefixed, -10 a line, -20 two
_STACK_EFFECT: list[tuple[int, int]] = [(0, 0)] * 256  # (pops, pushes); pops < 0: to the mark and -pops-1 below
for _op in pickletools.opcodes:
    _code, _arg = ord(_op.code), _op.arg
    if _arg is None:
        _ARG_SIZE[_code] = 0
    elif _arg.n > 0:
        _ARG_SIZE[_code] = _arg.n
    elif _arg.n == pickletools.UP_TO_NEWLINE:
        _ARG_SIZE[_code] = -10
    elif _arg.n == pickletools.TAKEN_FROM_ARGUMENT1:
        _ARG_SIZE[_code] = -1
    elif _arg.n in (pickletools.TAKEN_FROM_ARGUMENT4, pickletools.TAKEN_FROM_ARGUMENT4U):
        _ARG_SIZE[_code] = -4
    elif _arg.n == pickletools.TAKEN_FROM_ARGUMENT8U:
        _ARG_SIZE[_code] = -8
    _before = [s.name for s in _op.stack_before]
    _pops = -1 - _before.index("mark") if "mark" in _before else len(_before)
    _STACK_EFFECT[_code] = (_pops, len(_op.stack_after))
_ARG_SIZE[ord("c")] = _ARG_SIZE[ord("i")] = -20  # GLOBAL, INST: module and name lines
_ARG_SIZE[0x95] = 8  # FRAME: its length; the framed opcodes follow
del _op, _code, _arg, _before, _pops

_SHIFT = 16  # a stack value is its hashing cost << _SHIFT | its tuple nesting
_DEPTH = (1 << _SHIFT) - 1
_ONE = 1 << _SHIFT  # a value that costs one step to hash and nests nothing
_MEMO_SLACK = 1 << 16  # memo indices allowed beyond the stores so far (picklers store in order)
_PUTS = (0x70, 0x71, 0x72)  # PUT, BINPUT, LONG_BINPUT
# opcodes that push one value costing one hashing step after an argument of a fixed size: that size
_PUSH_FIXED: list[int] = [-1] * 256
for _code, _size in ((0x7D, 0), (0x5D, 0), (0x4E, 0), (0x4B, 1), (0x89, 0), (0x88, 0)):
    _PUSH_FIXED[_code] = _size  # EMPTY_DICT, EMPTY_LIST, NONE, BININT1, NEWFALSE, NEWTRUE
del _code, _size


class Scan:
    """One pass over a pickle's opcodes before it is loaded (see the module doc).

    Parameters
    ----------
    data
        The pickle.
    budget
        The load's budget: its limits, and its source for error messages.
    """

    __slots__ = ("data", "budget", "stack", "marks", "memo", "memoized", "cost", "puts")

    def __init__(self, data: bytes, budget: Budget):
        self.data, self.budget = data, budget
        self.stack: list[int] = []
        self.marks: list[int] = []
        self.memo: dict[int, int] = {}  # what PUT stored: index -> value, for values other than _ONE
        self.memoized: list[int] = []  # what MEMOIZE stored, in order (PUT pickles use self.memo instead)
        self.cost = 0
        self.puts = 0  # PUT opcodes so far (a pickle uses these or MEMOIZE, never both)

    def malformed(self, what: str) -> pickle.UnpicklingError:
        return pickle.UnpicklingError(f"the pickle{self.budget.where()} is malformed: {what}")

    def hashing(self, values: list[int]) -> None:
        self.cost += sum(values) >> _SHIFT
        if self.cost > self.budget.max_objects:
            raise ContentLimitError(
                f"the pickle{self.budget.where()} uses dict keys or set members that would take more than "
                f"{self.budget.max_objects:,} steps to hash (tuples nested through shared references); the "
                "limit is PickleLimits.max_objects plus 2 per byte of the pickle")

    def run(self, i: int) -> None:
        """Scan from byte ``i`` to the pickle's STOP; raise if the unpickler would go beyond the limits.

        Raises
        ------
        cldata.errors.ContentLimitError
            If loading would hash, nest, store or allocate beyond the budget's limits.
        pickle.UnpicklingError
            If the pickle is malformed.
        """
        data, stack, marks = self.data, self.stack, self.marks
        memo = self.memoized
        push, remember, n, frombytes, one, fixed = stack.append, memo.append, len(data), int.from_bytes, _ONE, _PUSH_FIXED
        puts = 0
        try:
            while i < n:
                op = data[i]
                i += 1
                # the opcodes a catalog is made of first: each test costs time on millions of them
                if op == 0x94:  # MEMOIZE
                    if puts:
                        raise self.malformed("it mixes PUT and MEMOIZE, which no pickler does")
                    remember(stack[-1])
                    continue
                if op == 0x8C or op == 0x43:  # SHORT_BINUNICODE, SHORT_BINBYTES
                    i += 1 + data[i]
                    push(one)
                    continue
                if op == 0x6A or op == 0x68:  # LONG_BINGET, BINGET
                    j = frombytes(data[i:i + 4], "little") if op == 0x6A else data[i]
                    push(memo[j] if j < len(memo) else self.memo.get(j, one))
                    i += 4 if op == 0x6A else 1
                    continue
                size = fixed[op]
                if size >= 0:  # EMPTY_DICT, EMPTY_LIST, NONE, BININT1, NEWFALSE, NEWTRUE
                    i += size
                    push(one)
                    continue
                if op == 0x28:  # MARK
                    marks.append(len(stack))
                    continue
                if op == 0x75:  # SETITEMS
                    self.setitems()
                    continue
                if op == 0x65:  # APPENDS
                    self.appends()
                    continue
                if op == 0x2E:  # STOP
                    self.stop()
                    return
                i = self.other(op, i)
                puts = self.puts
        except IndexError:
            raise self.malformed("its stack or its data ends too soon") from None
        raise self.malformed("it has no STOP")

    def setitems(self) -> None:
        """SETITEMS: the keys down to the mark are hashed."""
        stack = self.stack
        m = self.marks.pop()
        if m < 1:
            raise IndexError
        keys = stack[m::2]
        if keys.count(_ONE) != len(keys):
            self.hashing(keys)
        else:
            self.cost += len(keys)  # checked at STOP
        del stack[m:]

    def appends(self) -> None:
        """APPENDS: the items down to the mark go into the list below it."""
        m = self.marks.pop() - 1
        if m < 0:
            raise IndexError
        del self.stack[m:]
        self.stack.append(_ONE)

    def stop(self) -> None:
        """STOP: a value must be there; the cost SETITEMS counted without checking is checked."""
        if not self.stack:
            raise IndexError
        self.hashing([])

    def other(self, op: int, i: int) -> int:
        """Scan opcode ``op`` (other than those :meth:`run` handles) whose argument starts at ``i``;
        return where the next opcode starts."""
        if self.memoized and op in _PUTS:
            raise self.malformed("it mixes PUT and MEMOIZE, which no pickler does")
        if op == 0x73:  # SETITEM
            stack = self.stack
            if len(stack) < 3:
                raise IndexError
            self.hashing(stack[-2:-1])
            del stack[-2:]
            return i
        if op in (0x74, 0x85, 0x86, 0x87):  # TUPLE, TUPLE1..3
            self.tuple(op)
            return i
        if op in (0x90, 0x91, 0x64):  # ADDITEMS, FROZENSET, DICT: hash the members or keys
            self.hashed(op)
            return i
        end = self.argument_end(op, i)
        self.effect(op, i, end)
        return end

    def tuple(self, op: int) -> None:
        """TUPLE, TUPLE1..3: a tuple costs what its items cost, plus one, and nests one deeper."""
        stack, budget = self.stack, self.budget
        m = self.marks.pop() if op == 0x74 else len(stack) - (op - 0x84)
        if m < 0:
            raise IndexError
        items = stack[m:]
        del stack[m:]
        cost = 1 + (sum(items) >> _SHIFT)
        depth = 1 + max([v & _DEPTH for v in items], default=0)
        if depth > min(budget.limits.max_depth, _DEPTH) or cost > budget.max_objects:
            raise ContentLimitError(
                f"the pickle{budget.where()} builds a tuple nested {depth} deep or of {cost:,} values counting "
                "shared references each time, beyond PickleLimits.max_depth or max_objects (hashing it, the "
                "unpickler would run without end or overflow its stack)")
        stack.append(cost << _SHIFT | depth)

    def hashed(self, op: int) -> None:
        """ADDITEMS, FROZENSET, DICT: the members (or keys) down to the mark are hashed."""
        stack = self.stack
        m = self.marks.pop()
        if m < (op == 0x90):
            raise IndexError
        size = len(stack) - m
        self.hashing(stack[m::2] if op == 0x64 else stack[m:])
        del stack[m - (op == 0x90):]
        stack.append((1 + size) << _SHIFT if op == 0x91 else _ONE)

    def argument_end(self, op: int, i: int) -> int:
        """Where the argument of ``op`` starting at ``i`` ends (refusing a length it does not hold)."""
        data = self.data
        size = _ARG_SIZE[op]
        if size is None:
            raise self.malformed(f"unknown opcode {op:#x}")
        if op == 0x95 or size in (-1, -4, -8):  # FRAME and the opcodes followed by as many bytes as they say
            width = 8 if op == 0x95 else -size
            length = int.from_bytes(data[i:i + width], "little")
            if i + width + length > len(data):
                # the C unpickler would allocate the length before finding out (a terabyte, say)
                raise ContentLimitError(
                    f"the pickle{self.budget.where()} claims {length:,} bytes for one value but holds "
                    f"{len(data) - i:,} more (the unpickler would allocate the claimed size first)")
            i += width + (0 if op == 0x95 else length)
        elif size > 0:
            i += size
        elif size < 0:
            end = data.find(b"\n", i)
            if size == -20 and end >= 0:
                end = data.find(b"\n", end + 1)
            if end < 0:
                raise self.malformed("a line has no end")
            i = end + 1
        if i > len(data):
            raise IndexError
        return i

    def effect(self, op: int, start: int, i: int) -> None:
        """The effect on the stack and memo of ``op``, whose argument is ``data[start:i]``."""
        stack = self.stack
        if op in _PUTS:
            self.put(op, start, i)
        elif op == 0x67:  # GET
            try:
                stack.append(self.memo.get(int(self.data[start:i - 1]), _ONE))
            except ValueError:
                raise self.malformed("a memo index is not a number") from None
        elif op in (0x8A, 0x8B):  # LONG1, LONG4: hashing an int takes time in its size
            stack.append((1 + (i - start) // 8) << _SHIFT)
        elif op == 0x32:  # DUP
            stack.append(stack[-1])
        elif op == 0x29:  # EMPTY_TUPLE: a level of nesting, as the walk counts it
            stack.append(_ONE | 1)
        elif op == 0x30:  # POP: with nothing above the last mark, the unpickler pops the mark
            if self.marks and self.marks[-1] == len(stack):
                self.marks.pop()
            else:
                stack.pop()
        else:
            self.generic(op)

    def put(self, op: int, start: int, i: int) -> None:
        """PUT, BINPUT, LONG_BINPUT: memo indices must come in order (within a slack)."""
        data, stack, budget = self.data, self.stack, self.budget
        try:
            index = data[start] if op == 0x71 else (int.from_bytes(data[start:start + 4], "little")
                                                     if op == 0x72 else int(data[start:i - 1]))
        except ValueError:
            raise self.malformed("a memo index is not a number") from None
        if not 0 <= index <= self.puts + _MEMO_SLACK:
            raise ContentLimitError(
                f"the pickle{budget.where()} stores at memo index {index:,} after {self.puts:,} stores (the "
                "unpickler would allocate a memo table that large, 16 bytes per index)")
        self.puts += 1
        if stack[-1] != _ONE:
            self.memo[index] = stack[-1]
        else:
            self.memo.pop(index, None)

    def generic(self, op: int) -> None:
        """Any other opcode: it pops and pushes as pickletools says, each value costing one step."""
        stack = self.stack
        pops, pushes = _STACK_EFFECT[op]
        if pops < 0:
            m = self.marks.pop() + pops + 1
            if m < 0:
                raise IndexError
            del stack[m:]
        elif pops:
            if len(stack) < pops:
                raise IndexError
            del stack[-pops:]
        stack.extend([_ONE] * pushes)
