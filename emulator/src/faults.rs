//! Faults below HTTP, served on the raw connection: an endpoint that accepts and never
//! answers, an answer cut off in the middle of its body, and an answer that never ends.
//! (Faults that are valid HTTP — statuses, bodies, redirects — are answered by the handlers.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::scenario::Misbehaviour;

/// Largest request read before answering (the client's requests are a few hundred bytes).
const MAX_REQUEST: usize = 64 * 1024;

/// Serves one connection with a raw fault.
pub(super) async fn serve(mut stream: TcpStream, fault: &Misbehaviour) {
    match fault {
        // Held open, unread, until the emulator stops (its connections are then aborted).
        Misbehaviour::Silent => std::future::pending::<()>().await,
        Misbehaviour::CutOff => {
            if read_request(&mut stream).await {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
                            Content-Length: 4096\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream
                    .write_all(br#"{"token_type":"Bearer","scope":"User.Read","access_tok"#)
                    .await;
                let _ = stream.flush().await;
            }
            let _ = stream.shutdown().await;
        }
        Misbehaviour::HugeBody(total) => {
            let asked = read_request(&mut stream).await;
            if asked {
                endless_body(&mut stream, *total).await;
            }
        }
        _ => {}
    }
}

/// Streams `total` bytes of JSON whitespace in 64 KiB chunks; stops when the client hangs up.
async fn endless_body(stream: &mut TcpStream, total: usize) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let size = chunk.len().min(total - sent);
        let framed = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            return;
        }
        sent += size;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
}

/// Reads one request (head and `Content-Length` body), so that closing afterwards does not
/// reset the connection under the client; false if it did not come within 5 s.
async fn read_request(stream: &mut TcpStream) -> bool {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let body = content_length(&buf[..end]);
                if buf.len() >= end + 4 + body {
                    return true;
                }
            }
            if buf.len() > MAX_REQUEST {
                return true;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or(false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST)
}
