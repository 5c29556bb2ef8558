"""The Modbus poll planner: which tags go into which read request. A core without I/O.

Theory of operation
-------------------
Input: the tags of one device and one poll group, the device's per-request limits, and the gap a
block may span. Output: a list of :class:`Block` (area, start, count, member tags) covering every
tag exactly once, with the fewest requests possible under those rules:

- tags never straddle two blocks (a float32 is read in one request);
- a block holds at most ``max_read_registers`` registers (or ``max_read_bits`` bits) - protocol
  limits 125 and 2000, or less if the device says so (catalogue T50);
- a block may span unused addresses up to ``max_gap`` between two tags, which saves a request when
  the device allows reading the hole.

Greedy left-to-right packing per area is optimal for this interval-covering problem (exchange
argument: the greedy block always ends at least as far right as any other plan's first block).

Learning: when the device rejects a block with exception 02 (illegal data address) or 03 (illegal
data value), the shell calls :meth:`PollPlanner.reject`. The block is split in two at the tag
boundary nearest its middle, and the split is remembered (a *barrier*: no later block may span it),
so the next plan reads the halves. Repeated rejections bisect down to a single tag, which is then
reported BAD with the exception while the rest of the device keeps reading (catalogue T49).
:meth:`PollPlanner.reject` returns the tags to mark BAD (only for a single-tag block).

What the shell does: call :meth:`plan` (cached until the barriers change), send one request per
block, and on 02/03 call :meth:`reject` then re-plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.modbus._spec import Area, ModbusTag


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers or bits of ``area`` from ``start``; ``tags`` inside it."""

    area: Area
    start: int
    count: int
    tags: tuple[ModbusTag, ...]

    @property
    def end(self) -> int:
        return self.start + self.count

    def describe(self) -> str:
        return f"{self.area.label}s {self.start}..{self.end - 1}"


class PollPlanner:
    """Plans the blocks of one device's poll group.

    Args:
        tags: the tags to read.
        max_registers: registers per request (1..125).
        max_bits: coils/discrete inputs per request (1..2000).
        max_gap_registers / max_gap_bits: the widest run of unused addresses a block may span.
    """

    def __init__(
        self,
        tags: Iterable[ModbusTag],
        *,
        max_registers: int = 125,
        max_bits: int = 2000,
        max_gap_registers: int = 8,
        max_gap_bits: int = 32,
    ) -> None:
        self._tags = tuple(tags)
        self._max = {False: max_registers, True: max_bits}
        self._gap = {False: max_gap_registers, True: max_gap_bits}
        self._barriers: set[tuple[Area, int]] = set()
        self._plan: list[Block] | None = None

    @property
    def barriers(self) -> frozenset[tuple[Area, int]]:
        """Learned split points: (area, address) where a block must start."""
        return frozenset(self._barriers)

    def plan(self) -> list[Block]:
        if self._plan is None:
            self._plan = self._build()
        return self._plan

    def _build(self) -> list[Block]:
        blocks: list[Block] = []
        by_area: dict[Area, list[ModbusTag]] = {}
        for tag in self._tags:
            by_area.setdefault(tag.area, []).append(tag)
        for area in Area:
            tags = sorted(by_area.get(area, ()), key=lambda t: (t.address, t.count))
            if not tags:
                continue
            limit, gap = self._max[area.is_bit], self._gap[area.is_bit]
            members: list[ModbusTag] = [tags[0]]
            start, end = tags[0].address, tags[0].end
            for tag in tags[1:]:
                new_end = max(end, tag.end)
                fits = (
                    new_end - start <= limit
                    and tag.address - end <= gap
                    and (area, tag.address) not in self._barriers
                )
                if fits:
                    members.append(tag)
                    end = new_end
                    continue
                blocks.append(Block(area, start, end - start, tuple(members)))
                members, start, end = [tag], tag.address, tag.end
            blocks.append(Block(area, start, end - start, tuple(members)))
        return blocks

    def reject(self, block: Block) -> tuple[ModbusTag, ...]:
        """The device refused ``block`` (exception 02/03): split it and remember the split.

        Returns:
            the tags to report BAD with the exception: empty when the block was split (its
            halves are tried on the next plan), the block's tags when it cannot be split further
            (one tag, or several tags at the same address).
        """
        starts = sorted({t.address for t in block.tags})
        if len(starts) < 2:
            return block.tags
        middle = block.start + block.count / 2
        split = min(starts[1:], key=lambda a: abs(a - middle))
        self._barriers.add((block.area, split))
        self._plan = None
        return ()


def minimum_requests(tags: Sequence[ModbusTag], max_registers: int = 125, max_bits: int = 2000) -> int:
    """A lower bound on requests for ``tags`` when every gap may be spanned: per area, the
    greedy packing of the sorted tags with an unlimited gap. Used by the benchmark."""
    planner = PollPlanner(
        tags, max_registers=max_registers, max_bits=max_bits, max_gap_registers=1 << 20, max_gap_bits=1 << 20
    )
    return len(planner.plan())
