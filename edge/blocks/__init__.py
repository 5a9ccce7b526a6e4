"""Signed day blocks: deterministic CBOR payloads in COSE_Sign1 envelopes, chained by hash.

Modules: `payload` (the day block's content), `cose` (sign/verify), `keys` (key files),
`chain` (hash chain), `request` (the grid operator's signed requests), `days` (local day layout),
`ed25519` (the signature check: libsodium when PyNaCl is installed, else cryptography).
"""
