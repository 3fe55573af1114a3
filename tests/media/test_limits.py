import pytest

from reelforge.errors import InvalidInput
from reelforge.media import MediaLimits


def test_defaults():
    limits = MediaLimits()
    assert limits.max_bytes == 4 * 1024**3
    assert limits.max_pixels == 50_000_000
    assert limits.max_image_side == 30_000
    assert limits.max_video_seconds == 4 * 3600
    assert (limits.max_video_width, limits.max_video_height) == (8192, 8192)
    assert limits.max_audio_seconds == 6 * 3600
    assert limits.max_text_bytes == 20 * 1024**2


def test_round_trip_and_partial_dict():
    limits = MediaLimits(max_pixels=1000, max_video_seconds=2.5)
    assert MediaLimits.from_dict(limits.to_dict()) == limits
    assert MediaLimits.from_dict({"max_bytes": 10}) == MediaLimits(max_bytes=10)


def test_frozen():
    with pytest.raises(AttributeError):
        MediaLimits().max_bytes = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "data", [{"max_bytes": 0}, {"max_pixels": -5}, {"max_text_bytes": "big"}, {"nope": 1}]
)
def test_invalid_limits_are_rejected(data):
    with pytest.raises(InvalidInput):
        MediaLimits.from_dict(data)
