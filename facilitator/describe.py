"""The console tells events in the record's words: one wording, in server/wording.py, that a review prints too."""
from server.wording import describe  # noqa: F401
