-- +goose Up
-- Sign-in sessions ended on the server (package taccuino/sessions): the
-- SHA-256 of each token whose session the caller ended (sign-out), refused
-- from then on as a cookie and as a bearer token, until its expiry, after
-- which the row may go (the verifier refuses the token then anyway).
-- Numbers 00080-00089 belong to the abuse and session rules of issue 14.
CREATE TABLE ended_sessions (
    token_digest bytea PRIMARY KEY CHECK (octet_length(token_digest) = 32),
    until        timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL
);
CREATE INDEX ended_sessions_until ON ended_sessions (until);
