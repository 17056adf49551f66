"""Views of a scheduler: text, DOT, the status table, the picture, the run summary, the
terminal. They read the protocol of ``nbjobs._core.protocol``, never the engine."""
