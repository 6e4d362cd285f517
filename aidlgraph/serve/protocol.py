"""How long a client may take to send a request: uvicorn's h11 protocol with two more clocks.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``, 5 s) but, once a request has
begun, waits for the rest of it forever: a client that opens connections and sends its headers a
byte at a time (slowloris), or never finishes a body, holds them open. Here a request's line and
headers must arrive within ``header_timeout`` seconds of its first byte (or of the connection, for
a client that sends nothing), and its body may pause at most ``body_timeout`` seconds between
chunks. Past either, the client gets 408 with a JSON error and the connection is closed.

This module imports uvicorn and h11 at the top: ``serve()`` imports it only when it runs the server
(the ``server`` extra). The class lives at module level so worker processes can unpickle it.
"""
from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0  # seconds from a request's first byte to the end of its headers
BODY_TIMEOUT = 30.0    # seconds the body may pause between two chunks

TIMEOUT_BODY = json.dumps({"error": "the request took too long to arrive; send it whole, without pauses"}).encode()
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                    b"content-length: " + str(len(TIMEOUT_BODY)).encode() + b"\r\n\r\n" + TIMEOUT_BODY)


class GuardedH11Protocol(H11Protocol):
    """One timer runs while a request is being read: the header clock from the request's first
    byte (more bytes do not reset it, so headers sent a byte at a time still run out); the body
    clock, reset by every chunk. Once the request is in, the app and keep-alive take over."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT
    reading_timer = None
    timed: str | None = None  # "headers" or "body": which clock is running

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.arm("headers", self.header_timeout)  # also a client that connects and sends nothing

    def connection_lost(self, exc) -> None:
        self.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self.disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:  # inside a request's headers (or a stray byte between requests)
            if self.timed != "headers":
                self.arm("headers", self.header_timeout)
        elif state is h11.SEND_BODY:
            self.arm("body", self.body_timeout)
        else:
            self.disarm()

    def on_response_complete(self) -> None:
        self.disarm()  # uvicorn's keep-alive clock guards the idle connection now
        super().on_response_complete()

    def arm(self, what: str, seconds: float) -> None:
        self.disarm()
        self.timed = what
        self.reading_timer = self.loop.call_later(seconds, self.too_slow)

    def disarm(self) -> None:
        if self.reading_timer is not None:
            self.reading_timer.cancel()
        self.reading_timer, self.timed = None, None

    def too_slow(self) -> None:
        what, self.reading_timer = self.timed, None
        if self.transport.is_closing():
            return
        seconds = self.header_timeout if what == "headers" else self.body_timeout
        self.logger.info("closed a connection from %s: its request's %s did not arrive within %s s",
                         self.client[0] if self.client else "?", what, seconds)
        if what == "headers" or self.cycle is None or not self.cycle.response_started:
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()
