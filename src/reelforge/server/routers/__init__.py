"""One router per resource (FastAPI's "bigger applications" layout); each is thin: it asks the
guard (``reelforge.access.guard``) and calls a service."""
