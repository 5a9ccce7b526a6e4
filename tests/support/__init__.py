"""Reusable test helpers: a real mosquitto per test module (`mosquitto`), TLS test certificates
(`certs`)."""
