"""Editorial: timelines (OpenTimelineIO), script-ordered rough cuts with take selection, subtitles, loudness."""
