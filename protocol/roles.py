"""The four roles, and the two sets of them every party asks about: defined once, here.

Tuples, in this order, so that a message listing them reads the same every time.
"""
from __future__ import annotations

ROLES = ("facilitator", "cofacilitator", "observer", "participant")
STAFF_ROLES = ROLES[:3]       # everyone but participants: they see the whole room
LEADS = ROLES[:2]             # the staff who run the room (observers only watch)
