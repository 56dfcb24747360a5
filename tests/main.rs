//! Integration tests: the real blip binary against loopback test servers.
