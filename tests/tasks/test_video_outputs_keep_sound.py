"""Videos jobs make from a film keep the film's sound, in sync: restore.apply and video.interpolate
(to another frame rate; slow motion has no sound that fits). Real jobs, real encoding and decoding.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from reelforge.studio import Studio
from tests.media.test_source_audio import FPS, RATE, _clip, _sound


def _click_at(path: Path) -> float:
    samples, first = _sound(path)
    return first + int(np.argmax(np.abs(samples))) / RATE


def test_restored_and_retimed_films_keep_their_sound(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    src = s.assets.add([_clip(tmp_path / "reel.mp4")]).assets[0]
    restored = s.jobs.submit("restore.apply", {"asset": src.id}).run()
    assert restored.status == "succeeded", restored.error
    retimed = s.jobs.submit(
        "video.interpolate", {"video": src.id, "mode": "fps", "fps": 30, "preset": "ultrafast"}
    ).run()
    assert retimed.status == "succeeded", retimed.error
    slow = s.jobs.submit(
        "video.interpolate", {"video": src.id, "mode": "slowmo", "factor": 2, "preset": "ultrafast"}
    ).run()
    assert slow.status == "succeeded", slow.error
    for job, fps in ((restored, FPS), (retimed, 30)):
        out = s.assets.get(job.result["video"])
        assert out.meta["audio"] is True
        path = s.assets.local_path(out)
        with av.open(str(path)) as c:
            assert [st.type for st in c.streams] == ["video", "audio"]
            assert float(c.streams.video[0].average_rate) == fps
        assert abs(_click_at(path) - 1.0) < 0.01  # the click still lands on the flash at 1.0 s
    # Slow motion: twice as long, so the film's sound would not fit; none is added.
    out = s.assets.get(slow.result["video"])
    assert out.meta["audio"] is False
    with av.open(str(s.assets.local_path(out))) as c:
        assert not c.streams.audio
