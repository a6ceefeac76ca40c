import uuid

from shared.ids import uuid4s


def test_uuid4s_are_distinct_random_version_4_uuids():
    ids = uuid4s(2000)
    assert len(ids) == 2000 and len(set(ids)) == 2000
    assert all(isinstance(i, uuid.UUID) and i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    # the same value as a plain UUID: equal, same hash, same text
    first = uuid.UUID(str(ids[0]))
    assert first == ids[0] and hash(first) == hash(ids[0]) and str(first) == str(ids[0])
    # random bits are random: not one bit position outside the version/variant is fixed over 2000 ids
    fixed = (0xF000 << 64) | (0xC000 << 48)
    ones = zeros = 0
    for i in ids:
        ones |= i.int
        zeros |= ~i.int
    assert (ones & zeros) | fixed == (1 << 128) - 1
    assert uuid4s(0) == []
