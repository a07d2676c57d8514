//! dnsmasq on a loopback port answering SRV records: the DNS a domain-joined machine asks for
//! its domain controllers, for the tests of `setup`. Stopped on drop.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Dnsmasq {
    child: Child,
    pub port: u16,
}

/// A loopback UDP port free a moment ago.
pub fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

impl Dnsmasq {
    /// Serves `srv` (dnsmasq's `--srv-host` syntax: `name,target,port,priority,weight`) and
    /// nothing else.
    pub fn start(srv: &str) -> Dnsmasq {
        let program = super::slapd::require(
            "/usr/sbin/dnsmasq",
            "install with: apt-get install -y dnsmasq-base",
        );
        let port = free_udp_port();
        let child = Command::new(program)
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                &format!("--port={port}"),
                &format!("--srv-host={srv}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let mut dnsmasq = Dnsmasq { child, port };
        dnsmasq.wait_until_answering();
        dnsmasq
    }

    /// Until its UDP port is taken (binding it fails): up to 10 s, as a loaded machine may take
    /// seconds to start it; an early exit is reported at once.
    fn wait_until_answering(&mut self) {
        for _ in 0..1000 {
            if UdpSocket::bind(("127.0.0.1", self.port)).is_err() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dnsmasq ended before listening on 127.0.0.1:{}: {status}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "dnsmasq did not listen on 127.0.0.1:{} within 10 s",
            self.port
        );
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
