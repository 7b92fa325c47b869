"""Sans-I/O wire protocols: bytes and text in, typed events out; no sockets here."""
