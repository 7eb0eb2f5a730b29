"""Reaching other nodes: HTTP transport (`transport`), the node's own participant as a
local peer (`local`), the directory of known peers with their health (`directory`), and
the one fan-out a round uses to ask several at once (`fanout`)."""
