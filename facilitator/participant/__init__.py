"""`facilitator join URL`: a participant's view of the group, in the terminal.

The package: `link` (connect, resume, retry, final refusals), `mirror` (the
engine's view fold plus what only this client knows), `chat` (the chat log),
`polls` (questions and results), `app` (the Textual app), `cli` (the command line).

The same abilities as the participant page: accept the group agreement,
confirm one's location, wait to be admitted, then see who is speaking and
one's place in the queue, raise and lower a hand, pass in a go-around,
answer polls and questionnaires, see shared results, the agenda and timers,
one's breakout room and the messages sent to it, chat, and a private call
for help. It reconnects by itself and resumes where it left off.

The token never has to be on the command line (where other users of the
machine can see it): it comes from --token-file, FACILITATOR_TOKEN, or a
prompt, each of which also takes a whole join link.
"""
