//! A loopback identity endpoint that speaks the documented Entra token and Graph protocol.
