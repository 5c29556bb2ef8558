"""The poll planner core: fewest requests within limits, gap spanning, learned splits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus import Area, DataType, ModbusTag, PollPlanner, minimum_requests

HR = Area.HOLDING_REGISTER


def reg(name: str, address: int, dt: DataType = DataType.UINT16, area: Area = HR) -> ModbusTag:
    return ModbusTag(name, area, address, dt)


def test_contiguous_tags_coalesce_into_one_block() -> None:
    tags = [reg("a", 0, DataType.FLOAT32), reg("b", 2), reg("c", 3, DataType.FLOAT64)]
    blocks = PollPlanner(tags).plan()
    assert [(b.start, b.count) for b in blocks] == [(0, 7)]
    assert blocks[0].tags == tuple(tags)


def test_gap_spanned_up_to_limit() -> None:
    tags = [reg("a", 0), reg("b", 9), reg("c", 30)]
    blocks = PollPlanner(tags, max_gap_registers=8).plan()
    assert [(b.start, b.count) for b in blocks] == [(0, 10), (30, 1)]
    blocks = PollPlanner(tags, max_gap_registers=7).plan()
    assert [(b.start, b.count) for b in blocks] == [(0, 1), (9, 1), (30, 1)]


def test_areas_never_mix_and_each_uses_its_function() -> None:
    tags = [reg("a", 0), reg("b", 1, area=Area.INPUT_REGISTER), ModbusTag("c", Area.COIL, 1, DataType.BOOL)]
    blocks = PollPlanner(tags).plan()
    assert sorted(b.area.name for b in blocks) == ["COIL", "HOLDING_REGISTER", "INPUT_REGISTER"]


def test_protocol_and_device_limits_t50() -> None:
    """Catalogue T50: 200 registers -> blocks of <= 125 (or the device's 20); 3000 coils -> <= 2000."""
    regs = [reg(f"r{i}", i) for i in range(200)]
    assert [b.count for b in PollPlanner(regs).plan()] == [125, 75]
    assert all(b.count <= 20 for b in PollPlanner(regs, max_registers=20).plan())
    assert len(PollPlanner(regs, max_registers=20).plan()) == 10
    coils = [ModbusTag(f"c{i}", Area.COIL, i, DataType.BOOL) for i in range(3000)]
    assert [b.count for b in PollPlanner(coils).plan()] == [2000, 1000]


def test_tag_never_straddles_blocks() -> None:
    tags = [reg(f"f{i}", i * 2, DataType.FLOAT32) for i in range(70)]  # 140 registers
    blocks = PollPlanner(tags).plan()
    assert [b.count for b in blocks] == [124, 16]


def test_reject_bisects_and_remembers_until_single_tag() -> None:
    tags = [reg(f"t{i}", i) for i in range(8)]
    planner = PollPlanner(tags)
    (block,) = planner.plan()
    assert planner.reject(block) == ()
    halves = planner.plan()
    assert [(b.start, b.count) for b in halves] == [(0, 4), (4, 4)]
    # the bad address is 5: keep rejecting the block that contains it
    while True:
        bad_block = next(b for b in planner.plan() if b.start <= 5 < b.end)
        isolated = planner.reject(bad_block)
        if isolated:
            break
    assert [t.name for t in isolated] == ["t5"]
    covered = sorted(t.name for b in planner.plan() for t in b.tags)
    assert covered == sorted(t.name for t in tags)
    assert len(planner.plan()) <= 5  # log2 splits, not one request per tag
    # a new planner from the same barriers is not needed: the split persists across plans
    assert planner.plan() is planner.plan()


tag_lists = st.lists(
    st.tuples(st.integers(0, 3000), st.sampled_from([DataType.UINT16, DataType.FLOAT32, DataType.FLOAT64])),
    min_size=1,
    max_size=200,
)


@given(tag_lists, st.integers(1, 125), st.integers(0, 20))
def test_plan_invariants(specs: list[tuple[int, DataType]], max_registers: int, gap: int) -> None:
    tags = [
        reg(f"t{i}", a, dt)
        for i, (a, dt) in enumerate(specs)
        if ModbusTag("x", HR, a, dt).count <= max_registers
    ]
    if not tags:
        return
    blocks = PollPlanner(tags, max_registers=max_registers, max_gap_registers=gap).plan()
    seen = [t.name for b in blocks for t in b.tags]
    assert sorted(seen) == sorted(t.name for t in tags)  # every tag exactly once
    for b in blocks:
        assert 1 <= b.count <= max_registers
        for t in b.tags:
            assert b.start <= t.address and t.end <= b.end  # inside, never straddling
    # with an unlimited gap the plan cannot beat the lower bound, and never goes below it
    assert len(blocks) >= minimum_requests(tags, max_registers=max_registers)
