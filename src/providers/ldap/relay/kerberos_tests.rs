//! The relay's SASL GSSAPI bind against a scripted server over loopback, with a fake Kerberos
//! whose "wrapping" is a visible transformation: the exchange of tokens, the security-layer
//! negotiation, the sealed connection ldap3 then uses without knowing, and the refusals.

use super::*;
use crate::providers::ldap::kerberos::{Step, Ticket};

/// A Kerberos whose context says "client-hello", expects "server-hello", and wraps by a flag
/// byte (1: sealed) and XOR.
struct FakeKerberos;

static FAKE: FakeKerberos = FakeKerberos;

impl Kerberos for FakeKerberos {
    fn ticket(&self, _: Option<&str>) -> Result<Ticket, KerberosError> {
        unreachable!("the relay does not ask for the ticket")
    }

    fn context(&'static self, request: &Request<'_>) -> Result<Box<dyn Context>, KerberosError> {
        assert_eq!(request.protection, Protection::Seal, "plain LDAP is sealed");
        assert_eq!(request.channel_binding, None, "no certificate, no binding");
        Ok(Box::new(FakeContext))
    }
}

struct FakeContext;

fn xor(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b ^ 0x5a).collect()
}

fn wrapped(data: &[u8], seal: bool) -> Vec<u8> {
    [vec![u8::from(seal)], xor(data)].concat()
}

impl Context for FakeContext {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Step, KerberosError> {
        match input {
            None => Ok(Step {
                token: b"client-hello".to_vec(),
                done: false,
            }),
            Some(b"server-hello") => Ok(Step {
                token: Vec::new(),
                done: true,
            }),
            Some(_) => Err(KerberosError::Failed("not the server's token".into())),
        }
    }

    fn wrap(&mut self, data: &[u8], seal: bool) -> Result<Vec<u8>, KerberosError> {
        Ok(wrapped(data, seal))
    }

    fn unwrap(&mut self, token: &[u8]) -> Result<(Vec<u8>, bool), KerberosError> {
        let (flag, data) = token
            .split_first()
            .ok_or(KerberosError::Failed("empty".into()))?;
        Ok((xor(data), *flag == 1))
    }
}

/// A BindResponse (or, with `op` 0x65, a SearchResultDone) to `id`.
fn answer(id: u8, op: u8, code: u8, credentials: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![0x0a, 1, code, 0x04, 0, 0x04, 0];
    if let Some(creds) = credentials {
        body.extend([0x87, creds.len() as u8]);
        body.extend(creds);
    }
    let mut message = vec![0x02, 1, id, op, body.len() as u8];
    message.extend(body);
    [vec![0x30, message.len() as u8], message].concat()
}

/// The server's side: reads one LDAP message from the client (plain, or from SASL buffers).
async fn read_message(stream: &mut TcpStream, framer: &mut Framer, sealed: bool) -> Vec<u8> {
    let mut buffers = sasl::Buffers::default();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(message) = framer.next_message().unwrap() {
            return message;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client hung up");
        if !sealed {
            framer.push(&buf[..n]).unwrap();
            continue;
        }
        buffers.push(&buf[..n]).unwrap();
        while let Some(token) = buffers.next_token().unwrap() {
            assert_eq!(token[0], 1, "the client's buffer is sealed");
            framer.push(&xor(&token[1..])).unwrap();
        }
    }
}

/// A server that goes through the bind, offering `offer`, and answers one search, sealed
/// unless `unsealed`.
async fn server(listener: TcpListener, offer: [u8; 4], first_code: u8, unsealed: bool) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut framer = Framer::new(LIMITS);
    let first = read_message(&mut stream, &mut framer, false).await;
    assert!(first.windows(12).any(|w| w == b"client-hello"));
    let reply = answer(first[4], 0x61, first_code, Some(b"server-hello"));
    stream.write_all(&reply).await.unwrap();
    if first_code != 14 {
        return;
    }
    let empty = read_message(&mut stream, &mut framer, false).await;
    assert!(empty.ends_with(b"GSSAPI\x04\x00"), "{empty:?}");
    let offer = wrapped(&offer, false);
    stream
        .write_all(&answer(empty[4], 0x61, 14, Some(&offer)))
        .await
        .unwrap();
    let chosen = read_message(&mut stream, &mut framer, false).await;
    assert_eq!(
        &chosen[chosen.len() - 5..],
        &wrapped(&[4, 0x10, 0x10, 0], false)[..]
    );
    stream
        .write_all(&answer(chosen[4], 0x61, 0, None))
        .await
        .unwrap();
    let search = read_message(&mut stream, &mut framer, true).await;
    assert_eq!(search[5], 0x63, "a search request");
    let done = wrapped(&answer(search[4], 0x65, 0, None), !unsealed);
    stream.write_all(&sasl::frame(&done)).await.unwrap();
}

async fn bind_against(offer: [u8; 4], first_code: u8) -> Result<(Ldap, Driver), OpenError> {
    bind_to(offer, first_code, false).await
}

async fn bind_to(
    offer: [u8; 4],
    first_code: u8,
    unsealed: bool,
) -> Result<(Ldap, Driver), OpenError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!(
        "ldap://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    ))
    .unwrap();
    tokio::spawn(server(listener, offer, first_code, unsealed));
    let target = Target {
        url: &url,
        starttls: false,
        tls: None,
        kerberos: Some(TicketBind {
            kerberos: &FAKE,
            principal: Some("alice@EXAMPLE.TEST".into()),
            service: "ldap/127.0.0.1@EXAMPLE.TEST".into(),
        }),
    };
    open(target).await
}

#[tokio::test]
async fn a_sealed_bind_hands_ldap3_plain_ldap() {
    // The server takes buffers of 0x100000 bytes at most.
    let (mut ldap, _driver) = bind_against([7, 0x10, 0, 0], 14).await.unwrap();
    let (entries, _) = ldap
        .search("", ldap3::Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(entries.is_empty());
}

#[tokio::test]
async fn plain_ldap_without_a_layer_is_refused() {
    let Err(OpenError::Kerberos(KerberosError::Failed(why))) = bind_against([1, 0, 0, 0], 14).await
    else {
        panic!("bound without a security layer");
    };
    assert!(why.contains("no Kerberos protection"), "{why}");
}

#[tokio::test]
async fn a_refused_bind_says_the_server_s_code() {
    let Err(OpenError::BindRefused(code, _)) = bind_against([7, 0x10, 0, 0], 49).await else {
        panic!("a refused bind went through");
    };
    assert_eq!(code, 49);
}

#[tokio::test]
async fn an_unsealed_answer_on_a_sealed_connection_is_cut_off() {
    let (mut ldap, driver) = bind_to([7, 0x10, 0, 0], 14, true).await.unwrap();
    let searched = ldap
        .search("", ldap3::Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await;
    assert!(searched.is_err() || searched.unwrap().success().is_err());
    assert_eq!(
        driver.violation(),
        Some(Violation::Malformed(
            "an unencrypted SASL buffer on a sealed connection"
        ))
    );
}
