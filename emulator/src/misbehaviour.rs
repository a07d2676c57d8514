//! What a fault is, as a [`Scenario`](super::Scenario) names it: the deliberate faults that
//! real networks, proxies and broken servers produce, for the client's robustness tests. How
//! each is served is in `faults`. Only with the cargo feature `faults`.

use std::time::Duration;

/// A deliberate fault, so clients can be tested against what real networks and servers do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Graph `/me` answers 200 with truncated JSON.
    MalformedJson,
    /// The token endpoint answers 500 with an HTML page.
    HtmlError,
    /// Every response is delayed by this long (client timeout tests).
    Delay(Duration),
    /// Graph `lastPasswordChangeDateTime` is `"not-a-date"`.
    BadDate,
    /// The token endpoint answers this status (500, 502, 503, …) with an HTML page, as a proxy
    /// or load balancer in front of it does.
    HtmlStatus(u16),
    /// The token endpoint answers 200 with valid JSON of the wrong types (`access_token` a
    /// number, `refresh_token` an array).
    TokenWrongTypes,
    /// The token endpoint answers 200 with valid JSON that lacks `access_token`.
    TokenMissingFields,
    /// Graph `/me` answers 200 with valid JSON of the wrong types.
    GraphWrongTypes,
    /// The token endpoint's error text carries terminal escape sequences, control characters
    /// and a bidi override, and is very long.
    HostileErrorText,
    /// The token endpoint and Graph answer `307 Temporary Redirect` to this URL.
    Redirect(String),
    /// Connections are accepted and never answered (not even read).
    Silent,
    /// The answer announces 4096 bytes of JSON, sends a few and closes the connection.
    CutOff,
    /// The answer streams this many bytes of JSON whitespace, chunked, no length announced.
    HugeBody(usize),
    /// The device code answer's `message` carries terminal escape sequences, an OSC 8 link,
    /// C1 controls and `<a href>` markup, its `user_code` escape sequences around the real
    /// code, and its `verification_uri` names a page on `https://evil.example`.
    HostileDeviceCode,
}
